// web: the front door (the only published port). GET / lists products;
// GET or POST /buy?sku=mug places an order through order.
import { serve, call } from './http-kit.mjs';

const PRODUCT = process.env.PRODUCT_URL ?? 'http://product:8080';
const ORDER = process.env.ORDER_URL ?? 'http://order:8080';

const buy = async (_req, _body, url) => {
  const order = await call('POST', `${ORDER}/orders`, { sku: url.searchParams.get('sku') ?? 'mug', qty: Number(url.searchParams.get('qty') ?? 1) });
  return [order.status === 200 ? 200 : 502, { order: order.body, servedBy: order.servedBy }];
};

serve('web', {
  'GET /healthz': async () => [200, { ok: true }],
  'GET /': async () => {
    const catalogue = await call('GET', `${PRODUCT}/products`);
    return [catalogue.status === 200 ? 200 : 502, { shop: 'meshctl shop', catalogue: catalogue.body, try: 'curl -X POST localhost:8080/buy?sku=mug' }];
  },
  'GET /buy': buy,
  'POST /buy': buy,
});
