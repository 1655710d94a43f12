// product: the catalogue.
import { serve, replica } from './http-kit.mjs';

const products = [
  { sku: 'mug', name: 'Mesh mug', price: 12 },
  { sku: 'tee', name: 'Sidecar tee', price: 25 },
  { sku: 'cap', name: 'Control-plane cap', price: 18 },
];

serve('product', {
  'GET /healthz': async () => [200, { ok: true }],
  'GET /products': async () => [200, { replica, version: process.env.VERSION ?? 'v1', products }],
});
