// `meshctl stat [service]`: the figures `top` shows, once, as a plain table.
import type { Command } from 'commander';
import { controllerOptions } from './controller-options.ts';

export function registerStat(program: Command): void {
  controllerOptions(program.command('stat'))
    .argument('[service]', 'one service: its figures, routes and edges')
    .description('Print requests/s, success rate, latency and retries per service and edge once, as a table or JSON.')
    .option('--json', 'print the figures as JSON')
    .action(async (service: string | undefined, opts) => {
      const { runStat } = await import('../ui/run-stat.ts');
      await runStat(service, opts);
    });
}
