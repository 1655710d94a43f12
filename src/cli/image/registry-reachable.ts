// Can the Dockerfile build get its base image? Yes if the engine already has
// it, or if Docker Hub answers at all within a few seconds.
import { spawnSync } from 'node:child_process';

export async function registryReachable(baseImage: string, timeoutMs = 3000): Promise<{ ok: boolean; why: string }> {
  if (process.env.MESH_OFFLINE === '1') return { ok: false, why: 'MESH_OFFLINE=1 is set' };
  const local = spawnSync('docker', ['image', 'inspect', '-f', '{{.Id}}', baseImage], { encoding: 'utf8' });
  if (local.status === 0) return { ok: true, why: `${baseImage} is already in the engine` };
  try {
    await fetch('https://registry-1.docker.io/v2/', { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
    return { ok: true, why: 'Docker Hub is reachable' };
  } catch {
    return { ok: false, why: `${baseImage} is not in the engine and Docker Hub is not reachable` };
  }
}
