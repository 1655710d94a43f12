// `meshctl top`: live dashboard of the mesh (services, edges, routes, proxies).
import type { Command } from 'commander';
import { controllerOptions } from './controller-options.ts';

export function registerTop(program: Command): void {
  controllerOptions(program.command('top'))
    .description('Live dashboard: requests/s, success rate, latency, retries per service, edge, route and proxy, refreshed every second.')
    .option('--interval <duration>', 'refresh interval', '1s')
    .option('--view <view>', 'view to open: services, edges, routes, proxies', 'services')
    .option('--service <name>', 'service whose routes the routes view shows')
    .option('--p99-threshold <duration>', 'p99 latency above this is yellow, above twice this red', '500ms')
    .option('--once', 'print one frame and exit (exit 3 when the controller is unreachable)')
    .option('--json', 'with --once: print the data as JSON')
    .action(async (opts) => {
      const { runTop } = await import('../ui/run-top.ts');
      await runTop(opts);
    });
}
