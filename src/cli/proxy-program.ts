// The program a sidecar runs (`meshctl proxy ...`) for its whole life: the
// root command and the proxy command only. The other commands' modules
// (compose, canary, tap, ...) would cost every sidecar ~0.3-0.5 MB of
// anonymous memory it never uses, and time to load at start. `meshctl proxy`
// parses, helps and fails as through buildProgram(); main.ts picks this one
// when argv says proxy.
import type { Command } from 'commander';
import { rootCommand } from './root-command.ts';
import { registerProxy } from './commands/proxy.ts';

export function buildProgram(): Command {
  const program = rootCommand();
  registerProxy(program);
  return program;
}
