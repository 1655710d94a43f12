// Makes sure the mesh image exists and holds this package: builds it when it
// is missing or its content-hash label differs from the package's.
import { spawnSync } from 'node:child_process';
import { MeshError } from '../../shared/errors.ts';
import { buildImage, ImageLabels, type BuildOptions, type BuildResult } from './build-image.ts';
import { contentHash } from './content-hash.ts';
import { PACKAGE_ROOT, defaultImageTag } from './mesh-version.ts';
import { packageFiles } from './package-files.ts';

/** The image's labels, or undefined when the engine does not have it. */
export function imageLabels(tag: string): Record<string, string> | undefined {
  const r = spawnSync('docker', ['image', 'inspect', '-f', '{{json .Config.Labels}}', tag], { encoding: 'utf8' });
  if (r.error) throw new MeshError('MESH_ERR_DOCKER_UNAVAILABLE', `could not run docker: ${r.error.message}`);
  if (r.status !== 0) {
    if (/Cannot connect|Is the docker daemon running|permission denied/i.test(r.stderr)) throw new MeshError('MESH_ERR_DOCKER_UNAVAILABLE', r.stderr.trim());
    return undefined;
  }
  return (JSON.parse(r.stdout) as Record<string, string> | null) ?? {};
}

export async function ensureImage(opts: BuildOptions = {}): Promise<{ built: false; tag: string; hash: string } | ({ built: true } & BuildResult)> {
  const tag = opts.tag ?? defaultImageTag();
  // Listed and hashed once, here; buildImage reuses both.
  const files = packageFiles(opts.packageRoot ?? PACKAGE_ROOT);
  const hash = contentHash(files);
  const have = imageLabels(tag);
  if (have?.[ImageLabels.hash] === hash) return { built: false, tag, hash };
  opts.log?.(have ? `${tag} holds another build of the package; rebuilding` : `${tag} is not in the engine; building it`);
  return { built: true, ...(await buildImage({ ...opts, tag, files, hash })) };
}
