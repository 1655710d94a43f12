import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeError } from '../../../src/cli/compose/compose-error.ts';
import { exitCodeFor } from '../../../src/shared/errors.ts';

const argv = ['docker-compose', '-f', 'x.yaml', 'up'];

test('compose failures become MeshErrors with a code and a next step', () => {
  const cases: Array<[string, string]> = [
    ["Couldn't connect to Docker daemon at http+docker://localhost - is it running?", 'MESH_ERR_DOCKER_UNAVAILABLE'],
    ['Error response from daemon: driver failed programming external connectivity: Bind for 0.0.0.0:8080 failed: port is already allocated', 'MESH_ERR_PORT_IN_USE'],
    ['ERROR: The Compose file \'./x.yaml\' is invalid because:\nservices.web.ports contains an invalid type', 'MESH_ERR_COMPOSE_INVALID'],
    ['services.web Additional property foo is not allowed', 'MESH_ERR_COMPOSE_INVALID'],
    ['ERROR: Pool overlaps with other one on this address space', 'MESH_ERR_COMPOSE_FAILED'],
    ['pull access denied for mesh, repository does not exist or may require \'docker login\'', 'MESH_ERR_COMPOSE_FAILED'],
    ['something else entirely', 'MESH_ERR_COMPOSE_FAILED'],
  ];
  for (const [text, code] of cases) {
    const e = composeError(argv, 1, text);
    assert.equal(e.code, code, text);
    assert.ok(e.hint.length > 0);
  }
  assert.match(composeError(argv, 1, 'ERROR: Pool overlaps with other one on this address space').hint, /--subnet-range/);
  assert.equal(exitCodeFor(composeError(argv, 1, 'services.web Additional property foo is not allowed')), 2);
  assert.equal(composeError(argv, null, 'spawn docker-compose ENOENT').code, 'MESH_ERR_COMPOSE_UNAVAILABLE');
});

test("a failure after compose's progress lines is what the message says (v1 and v2)", () => {
  const v1 = [
    'Stopping shop_order_1           ... done',
    'Stopping shop_payment_1         ... done',
    'Stopping shop_web_1             ... done',
    'Stopping shop_inventory_1       ... done',
    'Stopping shop_product_1         ... done',
    'Stopping shop_order-mesh_1      ... done',
    'Removing shop_order_1           ... done',
    'Removing network shop-mesh',
    'ERROR: error while removing network: network shop-mesh id cda042b3704a has active endpoints',
  ].join('\n');
  const e1 = composeError(['docker-compose', 'down'], 1, v1);
  assert.match(e1.message, /has active endpoints/);
  assert.doesNotMatch(e1.message, /Stopping/);
  const v2 = [' Container shop-web-1  Stopping', ' Container shop-web-1  Removed', 'failed to remove network shop-mesh: Error response from daemon: error while removing network: network shop-mesh has active endpoints'].join('\n');
  assert.match(composeError(['docker', 'compose', 'down'], 1, v2).message, /failed to remove network shop-mesh/);
  // Nothing that names a failure: the last lines, where compose ends.
  assert.match(composeError(argv, 1, ['Creating x ... done', 'line 1', 'line 2', 'the end'].join('\n')).message, /line 1; line 2; the end$/);
});
