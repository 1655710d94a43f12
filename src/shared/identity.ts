// Controller API messages for identity: a proxy sends a CSR, the controller's
// CA answers with a signed leaf and the roots to trust. One schema, both sides.
import { z } from 'zod';

const pem = (label: string) =>
  z
    .string()
    .max(64 * 1024)
    .refine((s) => s.includes(`-----BEGIN ${label}-----`), `expected a PEM ${label}`);

export const SignRequest = z
  .object({
    csrPem: pem('CERTIFICATE REQUEST'),
    // The service the caller claims to be. The CA issues for the service the
    // API authenticated (token or transport), never for names in the CSR.
    service: z.string().min(1).max(63).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a compose service name'),
    token: z.string().min(1).max(4096).optional(),
  })
  .strict();
export type SignRequest = z.infer<typeof SignRequest>;

export const SignResponse = z
  .object({
    // Leaf first, then any intermediates (none today: the root signs leaves).
    certChainPem: pem('CERTIFICATE'),
    // Every root a proxy must trust; two during a root rotation overlap.
    trustBundlePem: pem('CERTIFICATE'),
    notBefore: z.iso.datetime(),
    notAfter: z.iso.datetime(),
    // Lower-case hex, as node:tls reports serialNumber (upper-case there).
    serial: z.string().regex(/^[0-9a-f]+$/),
  })
  .strict();
export type SignResponse = z.infer<typeof SignResponse>;

/** GET /v1/certs: the roots the mesh trusts and the leaf the CA last issued to each service. */
export const CertsResponse = z
  .object({
    trustDomain: z.string(),
    roots: z.array(z.object({ serial: z.string(), subject: z.string(), notBefore: z.string(), notAfter: z.string(), active: z.boolean() }).strict()),
    services: z.array(
      z.object({ service: z.string(), spiffeId: z.string(), serial: z.string(), notBefore: z.string(), notAfter: z.string(), issuer: z.string() }).strict(),
    ),
  })
  .strict();
export type CertsResponse = z.infer<typeof CertsResponse>;
