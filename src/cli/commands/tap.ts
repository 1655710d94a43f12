// `meshctl tap <service>`: live requests through a service's sidecars.
import type { Command } from 'commander';
import { controllerOptions } from './controller-options.ts';

export function registerTap(program: Command): void {
  controllerOptions(program.command('tap'))
    .argument('<service>', 'the service whose sidecars to watch (inbound and outbound requests)')
    .summary('Stream live requests through a service\'s sidecars, filtered in the sidecars.')
    .description(
      'Stream live requests through a service\'s sidecars: time (UTC), direction, source → destination, method, path, status, latency, attempts, trace id. ' +
        'HTTP requests only (opaque TCP connections are not shown). Filters run in the sidecars, so an idle tap costs nothing; ' +
        'a reader that falls behind loses lines and is told how many.',
    )
    .option('--path <prefix>', 'only requests whose path starts with this prefix')
    .option('--status <codes>', 'only these statuses: a class (5xx), a code (404), or several joined by commas (4xx,5xx)')
    .option('--method <method>', 'only this HTTP method (GET, POST, ...)')
    .option('--max <n>', 'stop after n requests')
    .option('--json', 'print one JSON object per line (NDJSON): requests, and "dropped" notices')
    .addHelpText('after', '\nExamples:\n  meshctl tap product\n  meshctl tap order --status 5xx --method POST\n  meshctl tap web --path /buy --max 10 --json\n\nExit codes: 0 after Ctrl-C or --max, 2 for an unknown service or a bad filter, 3 when the controller is unreachable or the stream from it is lost.')
    .action(async (service: string, opts) => {
      const { runTap } = await import('../tap/run-tap.ts');
      await runTap(service, opts);
    });
}
