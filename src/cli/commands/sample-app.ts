// `meshctl sample-app`: a small HTTP app (its name, version and host; /fail, /slow, /call) for examples and tests.
import type { Command } from 'commander';

export function registerSampleApp(program: Command): void {
  program
    .command('sample-app')
    .description('Run a small HTTP app that answers with its hostname, service name and version; /fail?rate=0.3 and /slow?ms=200 make it misbehave, /call?url= calls out.')
    .option('--port <port>', 'port to listen on', (v) => Number(v), 8080)
    .option('--name <service>', 'service name to report (default $MESH_SERVICE, $SERVICE_NAME or the hostname)')
    .option('--version-label <version>', 'version to report (default $SERVICE_VERSION or v1)')
    .option('--fail-rate <share>', 'answer this share (0..1) of every request with 500', (v) => Number(v))
    .option('--slow-ms <ms>', 'delay every request by this many ms', (v) => Number(v))
    .action(async (opts) => {
      const { startSampleApp } = await import('../sample-app/start-sample-app.ts');
      const env = process.env;
      const app = await startSampleApp({
        port: opts.port,
        name: opts.name,
        version: opts.versionLabel,
        failRate: opts.failRate ?? (env.FAIL_RATE ? Number(env.FAIL_RATE) : undefined),
        slowMs: opts.slowMs ?? (env.SLOW_MS ? Number(env.SLOW_MS) : undefined),
      });
      process.stdout.write(`sample-app listening on :${app.port}\n`);
      const stop = () => void app.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}
