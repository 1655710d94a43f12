// inventory: reserves stock. Answers with its replica so load spreading shows.
import { serve, replica } from './http-kit.mjs';

const stock = new Map([['mug', 1e6], ['tee', 1e6], ['cap', 1e6]]);
let served = 0;

serve('inventory', {
  'GET /healthz': async () => [200, { ok: true }],
  'GET /stats': async () => [200, { replica, served }],
  'POST /reserve': async (_req, body) => {
    served++;
    const left = stock.get(body?.sku);
    if (left === undefined) return [404, { error: `unknown sku ${body?.sku}` }];
    const qty = Number(body?.qty ?? 1);
    if (left < qty) return [409, { error: `only ${left} left` }];
    stock.set(body.sku, left - qty);
    return [200, { reserved: qty, sku: body.sku, replica }];
  },
});
