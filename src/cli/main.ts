#!/usr/bin/env node
// meshctl entry point: parse, run, turn errors into a message and an exit code.
import { buildProgram } from './program.ts';
import { reportError } from './report-error.ts';

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err);
}
