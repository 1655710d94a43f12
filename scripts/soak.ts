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
// Bounds on growth from the second third of the run to its end: RSS may grow this much, fds this many.
const RSS_BOUND_MB = 24;
const FD_BOUND = 16;

const log = (line: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
if (skipWithoutDocker) {
  log(String(skipWithoutDocker));
  process.exit(3);
}

/** RSS (MB) and open fds of a container's main process, read from the host's /proc. */
function probe(id: string): { rssMb: number; fds: number } | undefined {
  const pid = docker('inspect', '-f', '{{.State.Pid}}', id).stdout.trim();
  if (!pid || pid === '0' || !existsSync(`/proc/${pid}`)) return undefined;
  try {
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return { rssMb: kb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

const shop = await startShop(log);
const sidecars = ['web-mesh', 'product-mesh', 'order-mesh', 'inventory-mesh', 'payment-mesh', 'mesh-controller'].map((s) => ({ name: s, id: shop.ids(s)[0]! }));
const curve: { t: number; by: Record<string, { rssMb: number; fds: number } | undefined> }[] = [];
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
    const pts = curve.map((c) => c.by[s.name]).filter((x): x is { rssMb: number; fds: number } => x !== undefined);
    // Pools grow while the load warms up and after a stall, then hold: growth that goes on shows between
    // the second third of the run and its end.
    const base = pts.slice(Math.floor(pts.length / 3), Math.max(Math.floor(pts.length / 3) + 1, Math.floor(pts.length / 2)));
    const tail = pts.slice(-3);
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    const rssGrowth = med(tail.map((p) => p.rssMb)) - med(base.map((p) => p.rssMb));
    const fdGrowth = med(tail.map((p) => p.fds)) - med(base.map((p) => p.fds));
    const ok = rssGrowth <= RSS_BOUND_MB && fdGrowth <= FD_BOUND;
    if (!ok) verdicts.push(`${s.name}: RSS ${rssGrowth.toFixed(1)} MB (bound ${RSS_BOUND_MB}), fds ${fdGrowth} (bound ${FD_BOUND})`);
    rows.push(`| ${s.name} | ${pts.map((p) => p.rssMb.toFixed(0)).join(' ')} | ${rssGrowth >= 0 ? '+' : ''}${rssGrowth.toFixed(1)} | ${pts.map((p) => p.fds).join(' ')} | ${fdGrowth >= 0 ? '+' : ''}${fdGrowth} | ${ok ? 'yes' : '**no**'} |`);
  }
  if (f.failed > 0) verdicts.push(`${f.failed} failed requests: ${JSON.stringify(f.errors).slice(0, 300)}`);
  exit = verdicts.length ? 1 : 0;
  section = [
    '<!-- soak:start -->',
    `\`npm run soak -- --minutes ${minutes} --rate ${rate}\`, run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${f.sent} requests (GET /buy and GET / through the shop, inventory ×3), **${f.failed} failed**, worst burst ${f.worstBurstMs} ms.`,
    `Every ${everyS} s, each sidecar's main process: RSS in MB and open file descriptors (from /proc on the host). Growth is the median of the last three samples minus the median of the samples from a third to half-way through the run (pools grow during warm-up and after a stall, then hold); bounds ${RSS_BOUND_MB} MB and ${FD_BOUND} fds.`,
    '',
    '| container | RSS MB over time | RSS growth MB | open fds over time | fd growth | within bounds |',
    '| --- | --- | ---: | --- | ---: | --- |',
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
