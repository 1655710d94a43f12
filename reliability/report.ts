// docs/reliability.md from the results of one run: the table first, then what
// each check saw, the failures' reasons and the notes.
import type { ScenarioResult } from './scenario.ts';

const kept = (r: ScenarioResult) => (r.kept === null ? 'not runnable' : r.kept ? 'yes' : r.knownIssue ? '**no** (known issue)' : '**no**');

export function scenarioTable(results: ScenarioResult[]): string {
  const rows = results.map((r) =>
    [r.title, r.level, r.kept === null ? '-' : `${r.load.rate}/s × ${r.load.seconds} s`, r.figures.sent, r.figures.failed, r.figures.worstBurstMs, r.promise, kept(r)].join(' | '),
  );
  return ['| scenario | level | load | sent | failed | worst burst ms | the promise | kept |', '| --- | --- | --- | ---: | ---: | ---: | --- | --- |', ...rows.map((r) => `| ${r} |`)].join('\n');
}

export function scenarioDetails(results: ScenarioResult[]): string {
  return results
    .map((r) => {
      const lines = [`### ${r.id}: ${kept(r)}`, '', `${r.title}. Load: ${r.load.what}.`, ''];
      for (const c of r.checks) lines.push(`- ${c.ok ? 'ok' : 'BROKEN'}: ${c.what} (${c.seen})`);
      const errs = Object.entries(r.figures.errors);
      if (errs.length) {
        lines.push('', 'Failures by reason:', '');
        for (const [why, n] of errs.sort((a, b) => b[1] - a[1]).slice(0, 6)) lines.push(`- ${n} × \`${why.replace(/`/g, "'").replace(/\s+/g, ' ')}\``);
      }
      if (r.knownIssue) lines.push('', `Known issue (reported, not fixed yet): ${r.knownIssue}.`);
      for (const n of r.notes) lines.push('', n);
      return lines.join('\n');
    })
    .join('\n\n');
}
