// `node bench/up-time.ts`: how long `meshctl up` takes on the shop example
// next to plain `docker-compose up -d` on the same file, on this machine's
// Docker engine. Each round runs both from a fresh copy (mesh first, then
// plain, each removed before the next), so the figures are taken under the
// same load. Prints every round, meshctl's own phase timestamps, and the
// range; never passes or fails on time. Uses an image tag of its own, removed
// at the end (or --image, an image already built, kept). Also prints the CPU
// the controller and the sidecars had used when `up` returned (the engine's
// own count per container): a figure that moves much less with the load of
// the machine than the seconds do.
import { spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findCompose } from '../src/cli/compose/compose-cli.ts';
import { runCompose } from '../src/cli/compose/run-compose.ts';
import { ensureImage } from '../src/cli/image/ensure-image.ts';
import { freePort } from '../src/cli/up/host-ports.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const usage = `usage: node bench/up-time.ts [--rounds 3] [--entry src|dist] [--keep-image] [--image tag]
  --rounds N     rounds of (meshctl up, down, plain compose up, down); default 3
  --entry        run meshctl from src/cli/main.ts (default) or dist/cli/main.js (npm run build first)
  --keep-image   leave the bench's mesh image in the engine
  --image TAG    use this mesh image as it is (no build, never removed), e.g. to compare two builds
`;

interface Timed {
  seconds: number;
  phases: string[];
  /** CPU seconds used so far by the controller and by all sidecars together. */
  cpu: { controller: number; sidecars: number };
}

/** One container's CPU time so far (ns), from the engine's stats endpoint on its Unix socket. */
function cpuNs(id: string): Promise<number> {
  const socketPath = process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice(7) : '/var/run/docker.sock';
  return new Promise((resolve) => {
    const req = request({ socketPath, path: `/containers/${id}/stats?stream=false&one-shot=true` }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        try {
          resolve(Number((JSON.parse(body) as { cpu_stats?: { cpu_usage?: { total_usage?: number } } }).cpu_stats?.cpu_usage?.total_usage ?? 0));
        } catch {
          resolve(0);
        }
      });
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function meshCpu(project: string): Promise<Timed['cpu']> {
  const out = spawnSync('docker', ['ps', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.ID}} {{.Label "mesh.role"}}'], { encoding: 'utf8' }).stdout;
  const cpu = { controller: 0, sidecars: 0 };
  for (const line of out.split('\n').filter(Boolean)) {
    const [id = '', role] = line.split(' ');
    if (role === 'controller') cpu.controller += (await cpuNs(id)) / 1e9;
    else if (role === 'proxy') cpu.sidecars += (await cpuNs(id)) / 1e9;
  }
  return cpu;
}

function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, NO_COLOR: '1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, entry: { type: 'string', default: 'src' }, 'keep-image': { type: 'boolean', default: false }, image: { type: 'string' }, help: { type: 'boolean', default: false } } });
  if (values.help) return void process.stdout.write(usage), 0;
  const cli = findCompose();
  if (!cli || spawnSync('docker', ['info'], { stdio: 'ignore' }).status !== 0) {
    process.stderr.write('needs a Docker engine and compose\n');
    return 3;
  }
  const rounds = Number(values.rounds);
  const main = values.entry === 'dist' ? join(ROOT, 'dist/cli/main.js') : join(ROOT, 'src/cli/main.ts');
  const tag = values.image ?? `mesh:bench-up-${randomBytes(3).toString('hex')}`;
  if (!values.image) {
    process.stderr.write(`building ${tag} (not counted)...\n`);
    await ensureImage({ tag });
  }
  const mesh: Timed[] = [];
  const plain: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const project = `benchup${randomBytes(3).toString('hex')}`;
      const dir = mkdtempSync(join(tmpdir(), 'meshctl-bench-up-'));
      cpSync(join(ROOT, 'examples/shop'), dir, { recursive: true, filter: (src) => !src.includes('/.mesh') });
      const env = { SHOP_PORT: String(await freePort()), MESH_IMAGE: tag };
      try {
        const t0 = Date.now();
        // MESH_DEBUG: meshctl also prints the project's container events, so the phases below show what it waited on.
        const up = await run(process.execPath, [main, 'up', '-p', project, '--image', tag, '--no-build'], { cwd: dir, env: { ...env, MESH_DEBUG: '1' } });
        const seconds = (Date.now() - t0) / 1000;
        if (up.code !== 0) throw new Error(`meshctl up failed (exit ${up.code}):\n${up.stderr}`);
        mesh.push({ seconds, phases: up.stderr.split('\n').filter((l) => /^\[\d/.test(l)), cpu: await meshCpu(project) });
        await run(process.execPath, [main, 'down', '-v'], { cwd: dir, env });
        const p = { files: [join(dir, 'compose.yaml')], project: `${project}plain`, env };
        const t1 = Date.now();
        try {
          await runCompose(cli, p, ['up', '-d']);
          plain.push((Date.now() - t1) / 1000);
        } finally {
          await runCompose(cli, p, ['down', '-v', '-t', '1']).catch(() => {});
        }
        process.stderr.write(`round ${i + 1}/${rounds}: meshctl up ${seconds.toFixed(1)} s, plain ${plain.at(-1)!.toFixed(1)} s\n`);
      } finally {
        await run(process.execPath, [main, 'down', '-v'], { cwd: dir, env }).catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    if (!values['keep-image'] && !values.image) spawnSync('docker', ['image', 'rm', '-f', tag], { stdio: 'ignore' });
  }
  const range = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `min ${s[0]!.toFixed(1)} s, median ${s[Math.floor(s.length / 2)]!.toFixed(1)} s, max ${s.at(-1)!.toFixed(1)} s`;
  };
  const out = process.stdout;
  out.write(`\nshop startup (${rounds} rounds, image already built, entry ${values.entry}, ${cli.command.join(' ')} ${cli.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')})\n`);
  out.write(`round  meshctl up  plain up  difference  CPU controller  CPU sidecars\n`);
  mesh.forEach((m, i) => out.write(`${String(i + 1).padEnd(5)}  ${m.seconds.toFixed(1).padStart(8)} s  ${plain[i]!.toFixed(1).padStart(6)} s  ${(m.seconds - plain[i]!).toFixed(1).padStart(8)} s  ${m.cpu.controller.toFixed(2).padStart(12)} s  ${m.cpu.sidecars.toFixed(2).padStart(10)} s\n`));
  out.write(`meshctl up: ${range(mesh.map((m) => m.seconds))}\nplain up:   ${range(plain)}\ndifference: ${range(mesh.map((m, i) => m.seconds - plain[i]!))}\n`);
  out.write(`\nphases of the last meshctl up (its own progress lines):\n${mesh.at(-1)!.phases.map((l) => `  ${l}`).join('\n')}\n`);
  return 0;
}

process.exitCode = await main().catch((err: unknown) => {
  process.stderr.write(`bench/up-time: ${(err as Error).stack ?? err}\n`);
  return 1;
});
