// Builds the commander program. No side effects: commands load their
// implementation lazily, so `meshctl --help` stays fast.
import type { Command } from 'commander';
import { rootCommand } from './root-command.ts';
import { registerProxy } from './commands/proxy.ts';
import { registerDemo } from './commands/demo.ts';
import { registerController } from './commands/controller.ts';
import { registerValidate } from './commands/validate.ts';
import { registerInject } from './commands/inject.ts';
import { registerImage } from './commands/image.ts';
import { registerSampleApp } from './commands/sample-app.ts';
import { registerTop } from './commands/top.ts';
import { registerStat } from './commands/stat.ts';
import { registerTap } from './commands/tap.ts';
import { registerUp } from './commands/up.ts';
import { registerDown } from './commands/down.ts';
import { registerStatus } from './commands/status.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerCanary } from './commands/canary.ts';
import { registerCerts } from './commands/certs.ts';

export function buildProgram(): Command {
  const program = rootCommand();
  // The order of `meshctl --help`: the daily commands first, then the parts
  // that run inside the mesh, then tools.
  registerUp(program);
  registerDown(program);
  registerStatus(program);
  registerTop(program);
  registerStat(program);
  registerTap(program);
  registerCanary(program);
  registerCerts(program);
  registerValidate(program);
  registerInject(program);
  registerDoctor(program);
  registerProxy(program);
  registerController(program);
  registerImage(program);
  registerSampleApp(program);
  registerDemo(program);
  return program;
}
