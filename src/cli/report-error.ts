// Prints an error as the user should see it: what failed, its code, what to do.
import { MeshError, exitCodeFor } from '../shared/errors.ts';

export function reportError(err: unknown, stream: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof MeshError) {
    stream.write(`meshctl: ${err.message}\n  code: ${err.code}\n  fix:  ${err.hint}\n`);
  } else {
    stream.write(`meshctl: ${(err as Error)?.stack ?? String(err)}\n`);
  }
  return exitCodeFor(err);
}
