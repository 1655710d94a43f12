// What `meshctl up` remembers in .mesh/ so that down, status and doctor find
// the project: up.json (project, files, controller port, image) and the
// bootstrap token (mode 600) the controller, sidecars and CLI share.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { MeshError } from '../../shared/errors.ts';
import { STATE_DIR } from '../../shared/names.ts';

export const UpState = z.object({
  project: z.string(),
  /** The user's compose files, absolute. */
  files: z.array(z.string()),
  /** The generated file, absolute. */
  output: z.string(),
  controllerPort: z.number().int().min(1).max(65535),
  image: z.string(),
  compose: z.array(z.string()),
});
export type UpState = z.infer<typeof UpState>;

export function stateDirOf(projectDir: string): string {
  return join(projectDir, STATE_DIR);
}

export function readUpState(projectDir: string): UpState | undefined {
  const file = join(stateDirOf(projectDir), 'up.json');
  if (!existsSync(file)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MeshError('MESH_ERR_CONFIG_INVALID', `${file} is not valid JSON (${(err as Error).message})`, 'delete it and run `meshctl up` again, or pass --controller <url>');
  }
  const r = UpState.safeParse(json);
  return r.success ? r.data : undefined;
}

/** Like readUpState, but says what to do when there is none. */
export function requireUpState(projectDir: string): UpState {
  const s = readUpState(projectDir);
  if (!s) throw new MeshError('MESH_ERR_FILE_NOT_FOUND', `no mesh state in ${stateDirOf(resolve(projectDir))} (up.json)`, 'run `meshctl up` in the project folder first, or pass --dir <project folder>');
  return s;
}

export function writeUpState(projectDir: string, state: UpState): void {
  mkdirSync(stateDirOf(projectDir), { recursive: true });
  writeFileSync(join(stateDirOf(projectDir), 'up.json'), JSON.stringify(state, null, 2) + '\n');
}

/** The token kept across runs: a new one would change every sidecar's definition and recreate it. */
export function bootstrapToken(projectDir: string): string {
  const dir = stateDirOf(projectDir);
  const file = join(dir, 'bootstrap-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
}
