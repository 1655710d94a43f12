// Runs the tests with node:test in one run, so there is one summary:
// unit, integration (real sockets), e2e (real Docker).
// `node scripts/test.ts [unit|integration|e2e ...] [-- extra node --test flags]`.
// Files run one at a time so timing-sensitive proxy tests do not fight over
// two cores.
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';

const all = ['unit', 'integration', 'e2e'];
const args = process.argv.slice(2);
const sep = args.indexOf('--');
const names = sep === -1 ? args : args.slice(0, sep);
const extra = sep === -1 ? [] : args.slice(sep + 1);
const suites = names.length ? names : all;
const unknown = suites.filter((s) => !all.includes(s));
if (unknown.length) {
  console.error(`unknown suite "${unknown.join(', ')}"; expected one of ${all.join(', ')}`);
  process.exit(2);
}
const files = suites.flatMap((s) => globSync(`test/${s}/**/*.test.ts`).sort());
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// In CI the end-to-end tests must run, never skip for want of an engine:
// check what they need first and fail with the reason.
if (process.env.CI === 'true' && suites.includes('e2e')) {
  const need: [string, string[]][] = [
    ['docker', ['info', '--format', '{{.ServerVersion}}']],
    ['tmux', ['-V']],
  ];
  for (const [cmd, args] of need) {
    if (spawnSync(cmd, args, { stdio: 'ignore' }).status !== 0) {
      console.error(`CI: \`${cmd} ${args.join(' ')}\` failed; the e2e tests need it (scripts/setup.sh installs and starts it)`);
      process.exit(1);
    }
  }
  // Both composes: the e2e tests run on v2 (meshctl prefers it) and cover v1
  // too (the corpus through both, the shop with MESH_COMPOSE=v1).
  for (const [cmd, major] of [[['docker', 'compose'], '2'], [['docker-compose'], '1']] as const) {
    const v = spawnSync(cmd[0], [...cmd.slice(1), 'version', '--short'], { encoding: 'utf8' });
    if (v.status !== 0 || !v.stdout.trim().replace(/^v/, '').startsWith(`${major}.`)) {
      console.error(`CI: \`${cmd.join(' ')} version --short\` gave "${(v.stdout ?? '').trim()}"; the e2e tests need Docker Compose v${major} there (scripts/setup.sh installs it)`);
      process.exit(1);
    }
  }
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...extra, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
