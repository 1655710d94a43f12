// Builds the commander program. No side effects: commands load their
// implementation lazily, so `meshctl --help` stays fast.
import { Command } from 'commander';
import { registerProxy } from './commands/proxy.ts';
import { registerDemo } from './commands/demo.ts';

export function buildProgram(): Command {
  const program = new Command('meshctl')
    .description('A service mesh for Docker Compose: mTLS, retries, timeouts, routing, metrics and traces for every service, with no change to the services.')
    .version(process.env.MESHCTL_VERSION ?? '0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false });
  registerProxy(program);
  registerDemo(program);
  return program;
}
