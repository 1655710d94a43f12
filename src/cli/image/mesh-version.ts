// The package version and the default mesh image tag (mesh:<version>).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The package root: src/cli/image/ (or dist/cli/image/) is three levels down. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const MESH_VERSION: string = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function defaultImageTag(): string {
  return process.env.MESH_IMAGE ?? `mesh:${MESH_VERSION}`;
}
