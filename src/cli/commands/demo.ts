// `meshctl demo`: a local demo of the proxy in front of a sample upstream.
import type { Command } from 'commander';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Start a sample upstream and a proxy in front of it on loopback, send a few requests, print what the proxy saw.')
    .option('--keep', 'keep running after the demo requests, until Ctrl-C')
    .action(async (opts) => {
      const { runDemo } = await import('../demo/run-demo.ts');
      await runDemo(opts);
    });
}
