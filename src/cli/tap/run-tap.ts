// `meshctl tap <service>`: opens the controller's tap stream for a service
// (filtering happens in its sidecars) and prints one line per request, or
// NDJSON with --json, until Ctrl-C, --max requests, or the stream ends.
import { ControllerClient } from '../controller-client.ts';
import { TapFilter, TapMessage } from '../../shared/api.ts';
import { MeshError } from '../../shared/errors.ts';
import { formatIssues } from '../../shared/snapshot.ts';
import { createPalette } from '../ui/palette.ts';
import { formatTapLine, formatTapNotice } from './format-tap-line.ts';

export type TapOptions = { controller?: string; token?: string; path?: string; status?: string; method?: string; json?: boolean; max?: string };

export interface TapIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Ends the tap like Ctrl-C (default: SIGINT). */
  signal?: AbortSignal;
}

function parseMax(max: string | undefined): number {
  if (max === undefined) return Infinity;
  const n = Number(max);
  if (!Number.isInteger(n) || n < 1) throw new MeshError('MESH_ERR_USAGE', `--max: expected a whole number of requests ≥ 1, got "${max}"`);
  return n;
}

export async function runTap(service: string, opts: TapOptions, io: TapIo = { out: process.stdout, err: process.stderr }): Promise<void> {
  const f = TapFilter.safeParse({ path: opts.path, status: opts.status, method: opts.method });
  if (!f.success) throw new MeshError('MESH_ERR_USAGE', formatIssues(f.error).replace(/^(path|status|method):/, '--$1:'));
  const max = parseMax(opts.max);
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(f.data)) if (v !== undefined) query.set(k, v);
  const client = await ControllerClient.connect({ url: opts.controller, token: opts.token });

  const stop = new AbortController();
  const onSigint = () => stop.abort();
  if (io.signal) io.signal.addEventListener('abort', onSigint, { once: true });
  else process.once('SIGINT', onSigint);
  const palette = createPalette({ isTTY: (io.out as NodeJS.WriteStream).isTTY });
  let proxies = 0;
  let shown = 0;
  try {
    const res = await client.stream(`/v1/tap/${encodeURIComponent(service)}${query.size ? `?${query}` : ''}`, stop.signal);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body!) {
      buf += decoder.decode(chunk as Uint8Array, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = TapMessage.safeParse(safeJson(line));
        if (!m.success) continue;
        const msg = m.data;
        if (msg.type === 'tapping') proxies = msg.proxies.length;
        if (opts.json) {
          if (msg.type === 'request' || msg.type === 'dropped') await write(io.out, line + '\n');
          else io.err.write(`meshctl: ${formatTapNotice(msg)}\n`);
        } else if (msg.type === 'request') {
          await write(io.out, formatTapLine(msg, palette, { showProxy: proxies > 1 }) + '\n');
        } else {
          io.err.write(`meshctl: ${formatTapNotice(msg)}\n`);
        }
        if (msg.type === 'request' && ++shown >= max) {
          stop.abort();
          return;
        }
      }
    }
    throw new MeshError('MESH_ERR_CONTROLLER_UNREACHABLE', `the controller at ${client.url} closed the tap stream`);
  } catch (err) {
    if (stop.signal.aborted) return; // Ctrl-C or --max: a normal end
    if (err instanceof MeshError) throw err;
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new MeshError('MESH_ERR_CONTROLLER_UNREACHABLE', `lost the tap stream from the controller at ${client.url} (${cause})`);
  } finally {
    process.removeListener('SIGINT', onSigint);
    io.signal?.removeEventListener('abort', onSigint);
  }
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** Waits when the terminal or pipe is behind, so the controller (not this process) drops lines. */
function write(out: NodeJS.WritableStream, text: string): Promise<void> {
  return out.write(text) ? Promise.resolve() : new Promise((r) => out.once('drain', () => r()));
}
