// MESH_DEBUG=1: while `up` runs compose and waits, print the
// project's container events (create, start, health, die) with the time since
// `up` started, so a slow `up` shows which container it waited on.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const SHOWN = /^(create|start|die|kill|destroy|health_status)/;

/** Follows `docker events` for the project; returns the function that stops it. */
export function followProjectEvents(project: string, say: (line: string) => void): () => void {
  const child = spawn('docker', ['events', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'type=container', '--format', '{{.Action}}|{{index .Actor.Attributes "com.docker.compose.service"}}|{{index .Actor.Attributes "name"}}'], { stdio: ['ignore', 'pipe', 'ignore'] });
  child.on('error', () => {});
  // Never what keeps meshctl running, whatever path `up` leaves by.
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  createInterface({ input: child.stdout }).on('line', (line) => {
    const [action = '', service = '', name = ''] = line.split('|');
    if (SHOWN.test(action)) say(`docker: ${service || name} ${action}`);
  });
  return () => {
    child.kill();
  };
}
