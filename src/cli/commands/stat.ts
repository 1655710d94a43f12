// `meshctl stat [service]`: the figures `top` shows, once, as a plain table.
import type { Command } from 'commander';

export function registerStat(program: Command): void {
  program
    .command('stat')
    .argument('[service]', 'one service: its figures, routes and edges')
    .description('Print requests/s, success rate, latency and retries per service and edge once, as a table or JSON.')
    .option('--controller <url>', 'controller API (default: $MESH_CONTROLLER_URL or http://127.0.0.1:15010)')
    .option('--token <token>', 'API token (default: $MESH_BOOTSTRAP_TOKEN or .mesh/bootstrap-token)')
    .option('--json', 'print the figures as JSON')
    .action(async (service: string | undefined, opts) => {
      const { runStat } = await import('../ui/run-stat.ts');
      await runStat(service, opts);
    });
}
