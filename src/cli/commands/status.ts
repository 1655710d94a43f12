// `meshctl status`: services, endpoints and each proxy's sync. The implementation loads lazily.
import type { Command } from 'commander';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('Show services, endpoints and health, and each proxy\'s snapshot version and sync (like istioctl proxy-status).')
    .option('--dir <folder>', 'project folder (default: here)')
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const { collectStatus, formatStatus } = await import('../up/run-status.ts');
      const r = await collectStatus(opts.dir ?? process.cwd());
      process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + '\n' : formatStatus(r));
    });
}
