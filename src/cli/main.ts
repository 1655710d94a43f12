#!/usr/bin/env node
// meshctl entry point: parse, run, turn errors into a message and an exit code.
import { enableCompileCache } from 'node:module';

// Node's on-disk compile cache (V8 code, and from src/ the type-stripped source too): with it, loading
// what `meshctl up` needs costs ~120 ms of CPU instead of ~350 ms, and every command starts sooner.
// Best effort (a folder it cannot write changes nothing); NODE_COMPILE_CACHE picks the folder (the image
// sets it to its pre-filled cache), NODE_DISABLE_COMPILE_CACHE=1 turns it off. Enabled before the
// program loads, hence the dynamic imports.
enableCompileCache();
// A sidecar (`meshctl proxy`) loads only its own command: src/cli/proxy-program.ts says why.
const { buildProgram } = process.argv[2] === 'proxy' ? await import('./proxy-program.ts') : await import('./program.ts');
const { reportError } = await import('./report-error.ts');

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err);
}
