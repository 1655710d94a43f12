// order: places an order: reserve stock at inventory, then charge at payment.
// Both are plain http://<service>:<port> calls; the mesh adds retries,
// timeouts and metrics without this code knowing.
import { randomUUID } from 'node:crypto';
import { serve, call, replica } from './http-kit.mjs';

const INVENTORY = process.env.INVENTORY_URL ?? 'http://inventory:8080';
const PAYMENT = process.env.PAYMENT_URL ?? 'http://payment:8080';

serve('order', {
  'GET /healthz': async () => [200, { ok: true }],
  'POST /orders': async (_req, body) => {
    const id = randomUUID();
    const sku = body?.sku ?? 'mug';
    const qty = Number(body?.qty ?? 1);
    const inventory = await call('POST', `${INVENTORY}/reserve`, { sku, qty });
    if (inventory.status !== 200) return [502, { id, error: 'inventory refused', inventory }];
    // The idempotency key makes a retried charge safe.
    const payment = await call('POST', `${PAYMENT}/charge`, { order: id, amount: qty * 10 }, { 'idempotency-key': id });
    if (payment.status !== 200) return [502, { id, error: 'payment failed', payment }];
    return [200, { id, replica, sku, qty, inventory: { ...inventory.body, servedBy: inventory.servedBy }, payment: { ...payment.body, servedBy: payment.servedBy } }];
  },
});
