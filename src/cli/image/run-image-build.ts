// Prints what `meshctl image build` did and how the image was made.
import { MeshError } from '../../shared/errors.ts';
import { buildImage } from './build-image.ts';
import { ensureImage } from './ensure-image.ts';

export async function runImageBuild(opts: { tag?: string; offline?: boolean; online?: boolean; ifChanged?: boolean }, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  if (opts.offline && opts.online) throw new MeshError('MESH_ERR_USAGE', '--offline and --online exclude each other');
  const log = (l: string) => out.write(`${l}\n`);
  const offline = opts.offline ? true : opts.online ? false : undefined;
  if (opts.ifChanged) {
    const r = await ensureImage({ tag: opts.tag, offline, log });
    if (!r.built) return void log(`${r.tag} is up to date (content ${r.hash})`);
    return void log(`built ${r.tag} (${r.mode}, content ${r.hash})`);
  }
  const r = await buildImage({ tag: opts.tag, offline, log });
  log(`built ${r.tag} (${r.mode}, content ${r.hash})`);
}
