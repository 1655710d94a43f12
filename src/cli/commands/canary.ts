// `meshctl canary`: progressive delivery of a new version with automated
// analysis and rollback. The rollout runs in the controller; these commands
// start, watch and steer it.
import { Command, InvalidArgumentError } from 'commander';
import { controllerOptions } from './controller-options.ts';

const client = (c: Command) => controllerOptions(c).option('--json', 'print the rollout as JSON');

export function registerCanary(program: Command): void {
  // `canary start --version v2` must reach the subcommand, not print meshctl's own version:
  // root options are then only read before the command name (the root has no others).
  program.enablePositionalOptions();
  const canary = program.command('canary').description('Roll out a new version step by step, judged on live metrics; roll back on a failed gate.');

  client(
    canary
      .command('start')
      .argument('<service>', 'the service to roll out')
      .description('Start a rollout of <service> to a running version (--version) or a new image (--image, Docker).')
      .option('--version <label>', 'a version already running (mesh.version label)')
      .option('--image <image:tag>', 'start the new version from this image (clones an app container of the service)')
      .option('--stable <label>', 'the version serving today (default: the only other one)')
      .option('--steps <list>', 'canary percent per step', '5,25,50,100')
      .option('--interval <duration>', 'time per step before its gates are judged', '30s')
      .option('--min-requests <n>', 'requests the canary must serve in a step before any verdict', '20')
      .option('--max-error-rate <rate>', '5xx rate allowed on the canary (1% or 0.01)', '1%')
      .option('--max-p99 <ms|Nx>', 'p99 limit: 250ms, or 1.5x the stable version\'s p99')
      .option('--header <name=value>', 'requests with this header reach the canary at any weight, and so do the calls they cause downstream when the apps forward trace context (traceparent or B3)')
      .option('--check-url <url>', 'the controller GETs this URL every interval/10 during the rollout')
      .option('--mirror <percent>', 'first, for one interval, copy this share of requests to the canary and discard its answers (judged by the same gates) before any real traffic moves; only bodiless requests and bodies buffered for retries are copied')
      .option('--wait', 'follow the rollout; exit 0 when promoted, 1 when rolled back or aborted')
      .addHelpText(
        'after',
        [
          '',
          'Test header downstream: with --header, every sidecar remembers the header of an inbound request by its',
          'trace id (W3C traceparent, or B3 x-b3-traceid / b3) for 60 s and adds it to the outbound calls of the same',
          'trace. So the apps on the path must forward the trace headers they receive, as Istio and Linkerd also',
          'require for tracing; an app that does not forward them drops the header at its hop.',
          '',
          'After promotion the controller retires the stable version: once every sidecar of the service sends all',
          'traffic to the canary and in-flight requests have drained, the stable containers are stopped and removed.',
        ].join('\n'),
      ),
  ).action(async (service: string, opts) => {
    const { runCanaryStart } = await import('../canary/run-canary.ts');
    process.exitCode = await runCanaryStart(service, opts);
  });

  client(canary.command('status').argument('[service]', 'one rollout').description('Show rollouts: state, step, weight, last gate check.')).action(async (service, opts) => {
    const { runCanaryStatus } = await import('../canary/run-canary.ts');
    await runCanaryStatus(service, opts);
  });

  const actions = {
    promote: 'Send 100% to the canary now and end the rollout (then retire the stable version).',
    abort: 'Send everything back to the stable version and end the rollout (canary containers are kept).',
    pause: 'Hold the current weight; no checks until resume.',
    resume: 'Continue a paused or manual rollout with a fresh window.',
  } as const;
  for (const [action, description] of Object.entries(actions) as [keyof typeof actions, string][]) {
    client(canary.command(action).argument('<service>').description(description)).action(async (service: string, opts) => {
      const { runCanaryAction } = await import('../canary/run-canary.ts');
      await runCanaryAction(service, action, opts);
    });
  }

  client(
    canary
      .command('set')
      .argument('<service>')
      .description('Manual mode: hold the canary at --weight percent (gates still run and can roll back); resume to step again.')
      .requiredOption('--weight <percent>', 'canary percent, 0..100', (v) => {
        const n = Number(v.replace(/%$/, ''));
        if (!Number.isInteger(n) || n < 0 || n > 100) throw new InvalidArgumentError('a whole percent, 0..100');
        return n;
      }),
  ).action(async (service: string, opts) => {
    const { runCanarySet } = await import('../canary/run-canary.ts');
    await runCanarySet(service, opts.weight, opts);
  });
}
