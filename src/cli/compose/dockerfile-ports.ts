// Ports a service's image will EXPOSE, read from its build context's
// Dockerfile without building it (DESIGN.md, "ports"). Multi-stage files: the
// stage `build.target` names (else the last), following `FROM <stage>` to
// the stages it builds on. EXPOSE with variables is skipped: we cannot know.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { isObj, type Obj } from './compose-model.ts';

interface Stage {
  name?: string;
  from: string;
  expose: string[];
}

export function parseDockerfileStages(text: string): Stage[] {
  const stages: Stage[] = [];
  // Join continuation lines, drop comments.
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const from = /^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) {
      stages.push({ from: from[1]!, name: from[2]?.toLowerCase(), expose: [] });
      continue;
    }
    const expose = /^EXPOSE\s+(.+)$/i.exec(line);
    if (expose && stages.length) {
      for (const p of expose[1]!.split(/\s+/)) {
        if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p)) continue;
        stages.at(-1)!.expose.push(p.includes('/') ? p.toLowerCase() : `${p}/tcp`);
      }
    }
  }
  return stages;
}

export function exposedPorts(text: string, target?: string): string[] {
  const stages = parseDockerfileStages(text);
  let stage = target ? stages.find((s) => s.name === target.toLowerCase()) : stages.at(-1);
  const out: string[] = [];
  const seen = new Set<Stage>();
  while (stage && !seen.has(stage)) {
    seen.add(stage);
    out.unshift(...stage.expose);
    const parent = stage.from.toLowerCase();
    stage = stages.find((s) => s.name === parent);
  }
  return [...new Set(out)];
}

/** EXPOSEd ports of a service built from a local context, or [] (image services, URLs, no Dockerfile). */
export function buildContextPorts(svc: Obj): string[] {
  const build = typeof svc.build === 'string' ? { context: svc.build } : isObj(svc.build) ? svc.build : undefined;
  if (!build || typeof build.context !== 'string' || !isAbsolute(build.context)) return [];
  if (typeof build.dockerfile_inline === 'string') return exposedPorts(build.dockerfile_inline, build.target as string | undefined);
  const name = typeof build.dockerfile === 'string' ? build.dockerfile : 'Dockerfile';
  const file = isAbsolute(name) ? name : join(build.context, name);
  if (!existsSync(file)) return [];
  try {
    return exposedPorts(readFileSync(file, 'utf8'), build.target as string | undefined);
  } catch {
    return [];
  }
}
