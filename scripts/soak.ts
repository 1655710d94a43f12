// `npm run soak [-- --minutes 10 --rate 20]`: the shop under a steady load for
// a long while, sampling every sidecar's RSS and open file descriptors (from
// /proc of its main process, seen from the host) every 10 s. Prints the
// curves, writes them to docs/reliability.md (the soak section), and exits 1
// on a failed request or on growth beyond the bounds. Not part of `npm test`.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { skipWithoutDocker, docker } from '../test/harness/shop-project.ts';
import { startShop } from '../reliability/shop-under-load.ts';
import { figures } from '../reliability/load.ts';
import { DOC, withSoakSection } from '../reliability/reliability-doc.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '20' },
    every: { type: 'string', default: '10' },
    'no-doc': { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const everyS = Number(values.every);
// Bounds on growth of the floor (lowest sample) from a window a third of the way in to the last window: RSS may grow this much, fds this many.
const RSS_BOUND_MB = 24;
const FD_BOUND = 16;

const log = (line: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
if (skipWithoutDocker) {
  log(String(skipWithoutDocker));
  process.exit(3);
}

interface Sample {
  rssMb: number;
  /** Anonymous pages (heap, buffers) and file pages (mostly the node binary, shared by every container of the image). */
  anonMb: number;
  fileMb: number;
  fds: number;
}

/** RSS (MB, split) and open fds of a container's main process, read from the host's /proc. */
function probe(id: string): Sample | undefined {
  const pid = docker('inspect', '-f', '{{.State.Pid}}', id).stdout.trim();
  if (!pid || pid === '0' || !existsSync(`/proc/${pid}`)) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const mb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
    return { rssMb: mb('VmRSS'), anonMb: mb('RssAnon'), fileMb: mb('RssFile'), fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

/**
 * Growth of a curve's floor: the lowest value in the window that starts a third
 * of the way in (warm-up done) against the lowest in the last window of the same
 * length (a sixth of the run, at least 3 samples each). Memory and connection
 * pools go up and down (a garbage collector's sawtooth, pools that open and
 * close), so a difference of single samples, or of medians of a few, measures
 * where in a cycle they fell; the floor rises when something is kept (or a
 * pool grown by a stall near the end has not idled out yet).
 */
function floorGrowth(xs: number[]): number {
  const n = xs.length;
  const w = Math.max(3, Math.floor(n / 6));
  const from = Math.min(Math.floor(n / 3), Math.max(0, n - 2 * w));
  return Math.min(...xs.slice(-w)) - Math.min(...xs.slice(from, from + w));
}

const shop = await startShop(log);
const sidecars = ['web-mesh', 'product-mesh', 'order-mesh', 'inventory-mesh', 'payment-mesh', 'mesh-controller'].map((s) => ({ name: s, id: shop.ids(s)[0]! }));
const curve: { t: number; by: Record<string, Sample | undefined> }[] = [];
let exit = 0;
let section = '';
try {
  const load = shop.load(rate);
  const t0 = Date.now();
  while (Date.now() - t0 < minutes * 60_000) {
    curve.push({ t: Math.round((Date.now() - t0) / 1000), by: Object.fromEntries(sidecars.map((s) => [s.name, probe(s.id)])) });
    const last = curve.at(-1)!;
    log(`t=${last.t}s sent ${load.samples.length} failed ${load.samples.filter((x) => !x.ok).length} | ${sidecars.map((s) => `${s.name} ${last.by[s.name]?.rssMb.toFixed(0) ?? '?'}MB/${last.by[s.name]?.fds ?? '?'}fd`).join(' ')}`);
    await sleep(everyS * 1000);
  }
  const f = figures(await load.stop());
  const rows: string[] = [];
  const verdicts: string[] = [];
  for (const s of sidecars) {
    const pts = curve.map((c) => c.by[s.name]).filter((x): x is Sample => x !== undefined);
    const rssGrowth = floorGrowth(pts.map((p) => p.rssMb));
    const fdGrowth = floorGrowth(pts.map((p) => p.fds));
    const last = pts.at(-1);
    const ok = rssGrowth <= RSS_BOUND_MB && fdGrowth <= FD_BOUND;
    if (!ok) verdicts.push(`${s.name}: RSS ${rssGrowth.toFixed(1)} MB (bound ${RSS_BOUND_MB}), fds ${fdGrowth} (bound ${FD_BOUND})`);
    const split = last ? `${last.anonMb.toFixed(0)} + ${last.fileMb.toFixed(0)}` : '-';
    rows.push(`| ${s.name} | ${pts.map((p) => p.rssMb.toFixed(0)).join(' ')} | ${split} | ${rssGrowth >= 0 ? '+' : ''}${rssGrowth.toFixed(1)} | ${pts.map((p) => p.fds).join(' ')} | ${fdGrowth >= 0 ? '+' : ''}${fdGrowth} | ${ok ? 'yes' : '**no**'} |`);
  }
  if (f.failed > 0) verdicts.push(`${f.failed} failed requests: ${JSON.stringify(f.errors).slice(0, 300)}`);
  exit = verdicts.length ? 1 : 0;
  section = [
    '<!-- soak:start -->',
    `\`npm run soak -- --minutes ${minutes} --rate ${rate}\`, run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${f.sent} requests (GET /buy and GET / through the shop, inventory ×3), **${f.failed} failed**, worst burst ${f.worstBurstMs} ms.`,
    `Every ${everyS} s, each sidecar's main process: RSS in MB and open file descriptors (from /proc on the host); at the end, RSS split into anonymous memory (heap, buffers) and file pages (mostly the node binary, shared by every container of the image). ` +
      `Growth is that of the floor: the lowest sample of the last sixth of the run minus the lowest of the sixth that starts a third of the way in (after warm-up). ` +
      `A garbage-collected heap and connection pools go up and down, so comparing single samples or medians of a few measures where in a cycle they fell (an earlier run reported −28 MB for a sidecar whose heap had just been collected); the floor rises when memory is kept (a leak, or a heap V8 keeps enlarging) or, for fds, while connections opened during a stall late in the run have not idled out yet. Bounds ${RSS_BOUND_MB} MB and ${FD_BOUND} fds.`,
    '',
    '| container | RSS MB over time | anon + file MB at end | RSS growth MB | open fds over time | fd growth | within bounds |',
    '| --- | --- | --- | ---: | --- | ---: | --- |',
    ...rows,
    '',
    verdicts.length ? `Broken: ${verdicts.join('; ')}.` : 'No failed request, no growth beyond the bounds.',
    minutes < 10 ? `\nShorter than the 10 minutes the issue asks for (the machine was shared); run \`npm run soak\` for the full length.` : '',
    '<!-- soak:end -->',
  ].join('\n');
  process.stdout.write(`${section}\n`);
} finally {
  await shop.down();
}
if (!values['no-doc'] && section) {
  mkdirSync(dirname(DOC), { recursive: true });
  writeFileSync(DOC, withSoakSection(existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Reliability\n', section));
  log(`wrote the soak section of ${DOC}`);
}
process.exit(exit);
