// Compiles a listener's AuthzPolicy once per snapshot into a function that
// decides one request or TCP connection. Istio's semantics: deny rules first;
// then, when allow rules exist, a request must match one; with no allow rules
// everything not denied is allowed. Rules see the verified peer identity
// only, never a header a client could set to claim one.
import type { z } from 'zod';
import type { AuthzPolicy, AuthzRule } from '../../shared/policies.ts';
import { compilePathPattern, normalizePath, type PathMatcher } from './path-pattern.ts';

type Policy = z.input<typeof AuthzPolicy>;
type Rule = z.input<typeof AuthzRule>;

export interface AuthzRequest {
  /** The verified peer (from its certificate), or undefined for plaintext / no certificate. */
  source?: { service: string; spiffeId?: string };
  /** The listener port the traffic arrived on. */
  port: number;
  /** Absent for opaque TCP. */
  http?: {
    method: string;
    path: string;
    headers: Record<string, string | string[] | undefined>;
  };
}

export interface AuthzDecision {
  allowed: boolean;
  /** The deciding rule's name, "default-deny", or undefined for the default allow. */
  rule?: string;
  /** True when audit mode let through what enforce mode would deny. */
  audited: boolean;
}

export type AuthzEvaluator = (req: AuthzRequest) => AuthzDecision;

export const DEFAULT_DENY = 'default-deny';
const ALLOW: AuthzDecision = Object.freeze({ allowed: true, audited: false });

interface CompiledRule {
  name: string;
  httpOnly: boolean; // has conditions TCP traffic cannot be checked against
  matchTcp: (req: AuthzRequest) => boolean;
  /** `path()` gives the normalized request path, computed at most once per decision. */
  matchHttp: (req: AuthzRequest, path: () => string) => boolean;
}

export function compileAuthz(policy: Policy | undefined): AuthzEvaluator {
  const rules = policy?.rules ?? [];
  if (rules.length === 0) return () => ALLOW;
  const audit = policy?.mode === 'audit';
  const deny = rules.filter((r) => r.action === 'deny').map(compileRule);
  const allow = rules.filter((r) => (r.action ?? 'allow') === 'allow').map(compileRule);

  const decide = (req: AuthzRequest): AuthzDecision => {
    const tcp = req.http === undefined;
    let normalized: string | undefined;
    const path = () => (normalized ??= normalizePath(req.http!.path));
    for (const r of deny) {
      // For TCP a deny rule's HTTP-only conditions are ignored, so it denies
      // more, never less (fail closed, as Istio does).
      if (tcp ? r.matchTcp(req) : r.matchHttp(req, path)) return { allowed: false, rule: r.name, audited: false };
    }
    if (allow.length === 0) return ALLOW;
    for (const r of allow) {
      // An allow rule with HTTP-only conditions never matches TCP traffic.
      if (tcp ? !r.httpOnly && r.matchTcp(req) : r.matchHttp(req, path)) return { allowed: true, rule: r.name, audited: false };
    }
    return { allowed: false, rule: DEFAULT_DENY, audited: false };
  };
  if (!audit) return decide;
  return (req) => {
    const d = decide(req);
    return d.allowed ? d : { allowed: true, rule: d.rule, audited: true };
  };
}

function compileRule(rule: Rule): CompiledRule {
  const identity: Array<(req: AuthzRequest) => boolean> = [];
  const http: Array<(req: AuthzRequest, path: () => string) => boolean> = [];
  if (rule.from) {
    const names = new Set(rule.from);
    const any = names.has('*');
    identity.push((req) => !!req.source && (any || names.has(req.source.service) || (!!req.source.spiffeId && names.has(req.source.spiffeId))));
  }
  if (rule.ports) {
    const ports = new Set(rule.ports);
    identity.push((req) => ports.has(req.port));
  }
  if (rule.methods) {
    const methods = new Set(rule.methods.map((m) => m.toUpperCase()));
    const any = methods.has('*');
    http.push((req) => any || methods.has(req.http!.method.toUpperCase()));
  }
  if (rule.paths) {
    const matchers: PathMatcher[] = rule.paths.map(compilePathPattern);
    http.push((_req, path) => {
      const p = path();
      return matchers.some((m) => m(p));
    });
  }
  if (rule.headers) {
    const checks = rule.headers.map((h) => ({ name: h.name.toLowerCase(), match: compileValuePattern(h.value) }));
    http.push((req) =>
      checks.every(({ name, match }) => {
        const v = req.http!.headers[name];
        if (v === undefined) return false;
        return Array.isArray(v) ? v.some(match) : match(v);
      }),
    );
  }
  const checks = [...identity, ...http];
  return {
    name: rule.name,
    httpOnly: http.length > 0,
    matchTcp: (req) => identity.every((f) => f(req)),
    matchHttp: (req, path) => checks.every((f) => f(req, path)),
  };
}

/** Header values: "*" present, "pre*" prefix, "*suf" suffix, else exact. */
function compileValuePattern(pattern: string): (v: string) => boolean {
  if (pattern === '*') return () => true;
  if (pattern.length > 1 && pattern.endsWith('*')) {
    const pre = pattern.slice(0, -1);
    return (v) => v.startsWith(pre);
  }
  if (pattern.length > 1 && pattern.startsWith('*')) {
    const suf = pattern.slice(1);
    return (v) => v.endsWith(suf);
  }
  return (v) => v === pattern;
}
