// One compiled authorization evaluator per listener per snapshot: the
// listener spec object is immutable and replaced by each apply, so it keys
// the cache, and a new snapshot compiles its policy exactly once.
import type { Listener } from '../../shared/snapshot.ts';
import { compileAuthz, type AuthzEvaluator } from './compile-authz.ts';

const cache = new WeakMap<Listener, AuthzEvaluator>();

export function listenerAuthz(spec: Listener): AuthzEvaluator {
  let e = cache.get(spec);
  if (e === undefined) {
    e = compileAuthz(spec.authz);
    cache.set(spec, e);
  }
  return e;
}
