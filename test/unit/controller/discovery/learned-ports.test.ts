// DockerDiscovery and port learning, with a stand-in engine and prober: an app
// that declares no port is held out of the registry while the first attempts
// run, joins with what they found (even nothing), and gets its ports when a
// later attempt finds them; an app that declares ports is never probed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { DockerDiscovery } from '../../../../src/controller/discovery/docker-discovery.ts';
import type { Workload } from '../../../../src/shared/api.ts';
import { eventually } from '../../../harness/eventually.ts';

function container(id: string, service: string, exposed: string[]) {
  return {
    Id: id,
    Name: `/p_${service}_1`,
    Config: { Labels: { 'com.docker.compose.project': 'p', 'com.docker.compose.service': service, 'mesh.role': 'app', 'mesh.service': service }, ExposedPorts: Object.fromEntries(exposed.map((p) => [p, {}])) },
    State: { Running: true, Paused: false },
    NetworkSettings: { Networks: { [`p_${service}-net`]: { IPAddress: '10.213.0.2' } } },
    HostConfig: {},
  };
}

test('an app with no declared port is held, then joins, then gets the ports a later attempt learns', async (t) => {
  const containers = [container('a'.repeat(64), 'hidden', []), container('b'.repeat(64), 'known', ['8080/tcp'])];
  const events = new PassThrough();
  const fake = {
    getEvents: async () => events,
    listContainers: async () => containers.map((c) => ({ Id: c.Id })),
    getContainer: (id: string) => ({ inspect: async () => containers.find((c) => c.Id === id) }),
  } as unknown as Docker;
  const probed: string[] = [];
  const answers = [[], [], [7070]];
  const d = new DockerDiscovery({
    project: 'p', docker: fake, learnDelaysMs: [0, 5, 5, 5], holdAttempts: 2,
    learnPorts: async (id) => {
      probed.push(id);
      return answers[probed.length - 1] ?? [];
    },
  });
  t.after(() => d.stop());
  const seen: Workload[][] = [];
  await d.start((w) => seen.push(w));
  const ports = (list: Workload[] | undefined, service: string) => list?.find((w) => w.service === service)?.ports;
  // The first list has `known` only: `hidden` is held while its first attempts run.
  assert.deepEqual(seen[0]!.map((w) => w.service), ['known']);
  // After the held attempts found nothing it joins with no port, and the third attempt's ports follow.
  await eventually(() => assert.deepEqual(ports(seen.at(-1), 'hidden'), [7070]), { timeoutMs: 5000, intervalMs: 10 });
  assert.ok(seen.some((list) => ports(list, 'hidden')?.length === 0), 'joined with no port once the held attempts were over');
  assert.deepEqual(ports(seen.at(-1), 'known'), [8080]);
  assert.ok(probed.every((id) => id === 'a'.repeat(64)), 'the app with a declared port was never probed');
  assert.equal(probed.length, 3, 'no attempt after the ports were found');
});
