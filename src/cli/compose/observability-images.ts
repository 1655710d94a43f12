// Can compose get the observability images? Each is either in the engine
// already, or its registry (or one of the engine's mirrors) answers. Asked
// before `up` writes anything, so a machine with no registry gets a clear
// warning naming the images instead of a pull error halfway through `up`.
import { spawnSync } from 'node:child_process';

export type ImageCheck = { image: string; local: boolean; pullable: boolean; why?: string };

/** Registry host of an image reference (Docker Hub for bare names and `library/`). */
export function registryOf(image: string): string {
  const first = image.split('/')[0]!;
  const isHost = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return isHost ? first : 'registry-1.docker.io';
}

export function imageIsLocal(image: string): boolean {
  return spawnSync('docker', ['image', 'inspect', '--format', '{{.Id}}', image], { stdio: 'ignore', timeout: 15_000 }).status === 0;
}

/** Registry mirrors the engine is configured with (they serve Docker Hub pulls). */
function engineMirrors(): string[] {
  const r = spawnSync('docker', ['info', '--format', '{{json .RegistryConfig.Mirrors}}'], { encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0) return [];
  try {
    return (JSON.parse(r.stdout) as string[] | null) ?? [];
  } catch {
    return [];
  }
}

/** Any HTTP answer from `/v2/` (401 included) means the registry is reachable. */
async function answers(base: string, timeoutMs: number): Promise<string | undefined> {
  try {
    await fetch(`${base.replace(/\/+$/, '')}/v2/`, { method: 'GET', signal: AbortSignal.timeout(timeoutMs) });
    return undefined;
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return e.cause?.code ?? e.name;
  }
}

export async function checkImages(images: string[], { timeoutMs = 3000 } = {}): Promise<ImageCheck[]> {
  const out: ImageCheck[] = [];
  const reach = new Map<string, Promise<string | undefined>>();
  const mirrors = images.some((i) => !imageIsLocal(i)) ? engineMirrors() : [];
  for (const image of images) {
    if (imageIsLocal(image)) {
      out.push({ image, local: true, pullable: true });
      continue;
    }
    const host = registryOf(image);
    const bases = [`https://${host}`, ...(host === 'registry-1.docker.io' ? mirrors : [])];
    if (!reach.has(host)) {
      reach.set(
        host,
        Promise.all(bases.map((b) => answers(b, timeoutMs))).then((whys) => (whys.some((w) => w === undefined) ? undefined : `${host} unreachable (${whys[0]})`)),
      );
    }
    const why = await reach.get(host)!;
    out.push({ image, local: false, pullable: why === undefined, ...(why ? { why } : {}) });
  }
  return out;
}
