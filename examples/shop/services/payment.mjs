// payment: charges orders. Fault switches, to show what the mesh does about them:
//   env PAYMENT_FAIL_RATE=0.3 / PAYMENT_DELAY_MS=800 at start, or at run time
//   POST /admin/faults {"failRate":0.3,"delayMs":0}  (GET shows the current ones).
// The failures are spread evenly, not drawn at random: exactly failRate of the
// charges fail, and below 0.5 never two in a row, so a demo (and a test) shows
// the same thing every run: one retry always gets through.
// A failed charge answers 503 before charging anything, so retrying it is safe;
// a charge with a known Idempotency-Key is answered from memory, not charged twice.
import { serve, replica } from './http-kit.mjs';

const faults = { failRate: Number(process.env.PAYMENT_FAIL_RATE ?? 0), delayMs: Number(process.env.PAYMENT_DELAY_MS ?? 0) };
const charges = new Map();
let failed = 0;
let owed = 0; // failures due so far but not yet served (error diffusion)

serve('payment', {
  'GET /healthz': async () => [200, { ok: true }],
  'GET /admin/faults': async () => [200, { ...faults, failed, charged: charges.size }],
  'POST /admin/faults': async (_req, body) => {
    if (body?.failRate !== undefined) {
      faults.failRate = Number(body.failRate);
      owed = 0;
    }
    if (body?.delayMs !== undefined) faults.delayMs = Number(body.delayMs);
    return [200, faults];
  },
  'POST /charge': async (req, body) => {
    if (faults.delayMs) await new Promise((r) => setTimeout(r, faults.delayMs));
    owed += faults.failRate;
    if (owed >= 1) {
      owed -= 1;
      failed++;
      return [503, { error: 'payment: injected failure (PAYMENT_FAIL_RATE)' }];
    }
    const key = req.headers['idempotency-key'] ?? `${Date.now()}-${Math.random()}`;
    if (!charges.has(key)) charges.set(key, { id: `ch_${charges.size + 1}`, amount: body?.amount ?? 0, replica });
    return [200, { charged: true, ...charges.get(key) }];
  },
});
