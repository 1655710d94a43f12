// Prints what `meshctl inject` did: which loader normalised the files, which
// services are meshed, skipped (and why) or excluded, and how to run it.
import { MeshError } from '../../shared/errors.ts';
import { inject, type InjectResult } from './inject.ts';
import { findComposeFile, type LoaderChoice } from './load-compose.ts';

export interface InjectCliOptions {
  file: string[];
  output?: string;
  exclude: string[];
  project?: string;
  envFile?: string;
  loader: string;
  subnetRange?: string;
  subnetSize?: number;
  image?: string;
  meshNetwork?: string;
  json?: boolean;
}

export function formatInject(r: InjectResult): string {
  const lines = [`normalised with: ${r.loader}`, `wrote ${r.output} (project "${r.project}")`];
  lines.push(`meshed (${r.meshed.length}): ${r.meshed.map((s) => `${s} [${r.subnets[s]}]`).join(', ') || 'none'}`);
  for (const s of r.skipped) lines.push(`skipped ${s.service}: ${s.reason}`);
  for (const e of r.excluded) lines.push(`excluded ${e} (--exclude)`);
  const unknown = r.meshed.filter((s) => !r.ports[s]?.length);
  if (unknown.length) {
    lines.push(`ports not in the file for: ${unknown.join(', ')} (meshed anyway; learned at \`meshctl up\` from the image or the running app, or declare them with \`expose:\` or in mesh.config.ts)`);
  }
  lines.push(`run it with: ${r.run}`);
  return lines.join('\n') + '\n';
}

export async function runInject(opts: InjectCliOptions, out: NodeJS.WritableStream = process.stdout): Promise<InjectResult> {
  if (!['auto', 'compose', 'yaml'].includes(opts.loader)) throw new MeshError('MESH_ERR_USAGE', `--loader ${opts.loader}: expected auto, compose or yaml`);
  if (opts.subnetSize !== undefined && !Number.isInteger(opts.subnetSize)) throw new MeshError('MESH_ERR_USAGE', '--subnet-size takes a prefix length such as 27');
  const r = await inject({
    files: opts.file.length ? opts.file : [findComposeFile()],
    output: opts.output,
    exclude: opts.exclude,
    project: opts.project,
    envFile: opts.envFile,
    loader: opts.loader as LoaderChoice,
    subnetRange: opts.subnetRange,
    subnetPrefix: opts.subnetSize,
    image: opts.image,
    meshNetwork: opts.meshNetwork,
  });
  if (opts.json) {
    const { input: _i, model: _m, ...summary } = r;
    out.write(JSON.stringify(summary, null, 2) + '\n');
  } else {
    out.write(formatInject(r));
  }
  return r;
}
