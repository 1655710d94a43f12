// The CLI's client for the controller API: finds the controller and its token,
// and checks every response against the schemas in shared/api.ts.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import {
  ErrorResponse,
  HealthResponse,
  MetricsResponse,
  Overrides,
  ProxiesResponse,
  ServicesResponse,
  type OverridePut,
} from '../shared/api.ts';
import { MeshError } from '../shared/errors.ts';
import { STATE_DIR } from '../shared/names.ts';
import { readUpState, stateDirOf } from './up/mesh-state.ts';

export const DEFAULT_CONTROLLER_URL = 'http://127.0.0.1:15010';

export interface ControllerClientOptions {
  /** --controller, else $MESH_CONTROLLER_URL, else the controller `meshctl up` started for this folder, else the default. */
  url?: string;
  /** --token, else $MESH_BOOTSTRAP_TOKEN, else the project's .mesh/bootstrap-token. */
  token?: string;
  /** The project folder whose .mesh/ `meshctl up` wrote (default: the working folder). */
  dir?: string;
  timeoutMs?: number;
}

export class ControllerClient {
  readonly url: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  private constructor(url: string, token: string | undefined, timeoutMs: number) {
    this.url = url.replace(/\/+$/, '');
    this.#token = token;
    this.#timeoutMs = timeoutMs;
  }

  static async connect(opts: ControllerClientOptions = {}): Promise<ControllerClient> {
    const dir = opts.dir ?? process.cwd();
    let url = opts.url || process.env.MESH_CONTROLLER_URL;
    if (!url) {
      const up = readUpState(dir);
      url = up ? `http://127.0.0.1:${up.controllerPort}` : DEFAULT_CONTROLLER_URL;
    }
    let token = opts.token || process.env.MESH_BOOTSTRAP_TOKEN || undefined;
    if (!token) {
      token = await readFile(join(stateDirOf(dir), 'bootstrap-token'), 'utf8').then(
        (t) => t.trim(),
        () => undefined,
      );
    }
    return new ControllerClient(url, token, opts.timeoutMs ?? 5_000);
  }

  health() {
    return this.#call('GET', '/v1/health', HealthResponse);
  }
  services() {
    return this.#call('GET', '/v1/services', ServicesResponse);
  }
  proxies() {
    return this.#call('GET', '/v1/proxies', ProxiesResponse);
  }
  metrics() {
    return this.#call('GET', '/v1/metrics', MetricsResponse);
  }
  overrides() {
    return this.#call('GET', '/v1/overrides', Overrides);
  }
  putOverride(body: OverridePut) {
    return this.#call('PUT', '/v1/overrides', Overrides, body);
  }
  clearOverride(service?: string) {
    const q = service ? `?service=${encodeURIComponent(service)}` : '';
    return this.#call('DELETE', `/v1/overrides${q}`, Overrides);
  }

  /** Any route, for features that add their own (canary, tap): checked with the given schema. */
  async call<T extends z.ZodType>(method: string, path: string, schema: T, body?: unknown): Promise<z.infer<T>> {
    return this.#call(method, path, schema, body);
  }

  /** A streaming route (tap): the open response, or the controller's refusal as a MeshError. No timeout; `signal` ends it. */
  async stream(path: string, signal: AbortSignal): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.url + path, { headers: this.#token ? { authorization: `Bearer ${this.#token}` } : {}, signal });
    } catch (err) {
      if (signal.aborted) throw err;
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new MeshError('MESH_ERR_CONTROLLER_UNREACHABLE', `cannot reach the controller at ${this.url} (${cause})`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let reason = text.slice(0, 200);
    let code: string | undefined;
    try {
      const e = ErrorResponse.parse(JSON.parse(text));
      reason = e.error;
      code = e.code;
    } catch {
      // not JSON: keep the text
    }
    if (res.status === 401) {
      throw new MeshError('MESH_ERR_CONTROLLER_REJECTED', `GET ${path}: ${reason}`, `pass --token, set MESH_BOOTSTRAP_TOKEN, or run from the folder whose ${STATE_DIR}/bootstrap-token the controller wrote`);
    }
    if (res.status === 404 && code === 'not_found') throw new MeshError('MESH_ERR_NOT_FOUND', reason);
    if (res.status === 400) throw new MeshError('MESH_ERR_USAGE', reason);
    throw new MeshError('MESH_ERR_CONTROLLER_REJECTED', `GET ${path}: ${res.status} ${reason}`);
  }

  async #call<T extends z.ZodType>(method: string, path: string, schema: T, body?: unknown): Promise<z.infer<T>> {
    const headers: Record<string, string> = {};
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new MeshError('MESH_ERR_CONTROLLER_UNREACHABLE', `cannot reach the controller at ${this.url} (${cause})`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new MeshError('MESH_ERR_CONTROLLER_REJECTED', `${method} ${path}: the controller answered ${res.status} with a body that is not JSON`);
    }
    if (!res.ok) {
      const e = ErrorResponse.safeParse(json);
      const reason = e.success ? e.data.error : text.slice(0, 200);
      if (res.status === 401) {
        throw new MeshError('MESH_ERR_CONTROLLER_REJECTED', `${method} ${path}: ${reason}`, `pass --token, set MESH_BOOTSTRAP_TOKEN, or run from the folder whose ${STATE_DIR}/bootstrap-token the controller wrote`);
      }
      throw new MeshError('MESH_ERR_CONTROLLER_REJECTED', `${method} ${path}: ${res.status} ${reason}`);
    }
    const r = schema.safeParse(json);
    if (!r.success) {
      throw new MeshError('MESH_ERR_CONTROLLER_REJECTED', `${method} ${path}: unexpected response (${r.error.issues[0]?.message}); are meshctl and the controller the same version?`);
    }
    return r.data;
  }
}
