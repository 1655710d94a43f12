// A hash of everything that goes into the mesh image, stored as an image
// label so ensureImage() rebuilds only when the package or Node changed.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PackageFile } from './package-files.ts';

/** Bump when the image layout changes, so old images are rebuilt. */
export const IMAGE_FORMAT = '4'; // 3: runs /app/dist (compiled at build), has /usr/local/bin/mesh-ready; 4: a filled compile cache

export function contentHash(files: PackageFile[], nodeVersion = process.version): string {
  const h = createHash('sha256').update(`format ${IMAGE_FORMAT}\nnode ${nodeVersion} ${process.arch}\n`);
  for (const f of files) h.update(`${f.rel}\0`).update(createHash('sha256').update(readFileSync(f.abs)).digest()).update('\n');
  return h.digest('hex').slice(0, 32);
}
