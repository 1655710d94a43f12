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
    // Which sidecar replica asks (its proxy id, the container's hostname): the
    // CA's issued index and a root rotation's progress are per proxy.
    proxyId: z.string().min(1).max(253).regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'a proxy id').optional(),
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
    // The CA's leaf generation when it signed this leaf; a snapshot carrying a
    // higher tls.leafGeneration tells the proxy to renew at once.
    generation: z.number().int().min(0).optional(),
  })
  .strict();
export type SignResponse = z.infer<typeof SignResponse>;

const RootRow = z
  .object({
    serial: z.string(),
    subject: z.string(),
    notBefore: z.string(),
    notAfter: z.string(),
    active: z.boolean(),
    // active: signs leaves; next: trusted, signs once every proxy trusts it; previous: trusted until retired.
    state: z.enum(['active', 'next', 'previous']).optional(),
  })
  .strict();

const LeafRow = z
  .object({
    service: z.string(),
    spiffeId: z.string(),
    serial: z.string(),
    notBefore: z.string(),
    notAfter: z.string(),
    issuer: z.string(),
    proxyId: z.string().optional(),
    generation: z.number().int().min(0).optional(),
    issuedAt: z.string().optional(),
  })
  .strict();

/** Where a root rotation stands: `trusting` (new root pushed, old one signs), `renewing` (new root signs, proxies renew). */
export const RootRotationStatus = z
  .object({
    phase: z.enum(['idle', 'trusting', 'renewing']),
    // Proxies the next step waits for, each with why ("snapshot not acked", "leaf from the old root").
    waitingFor: z.array(z.object({ proxyId: z.string(), service: z.string(), reason: z.string() }).strict()).default([]),
  })
  .strict();
export type RootRotationStatus = z.infer<typeof RootRotationStatus>;

/** GET /v1/certs: the roots the mesh trusts and the leaf the CA last issued to each service. */
export const CertsResponse = z
  .object({
    trustDomain: z.string(),
    roots: z.array(RootRow),
    services: z.array(LeafRow),
    // The last leaf per proxy (persisted, so it survives a controller restart).
    leaves: z.array(LeafRow).optional(),
    leafGeneration: z.number().int().min(0).optional(),
    rotation: RootRotationStatus.optional(),
  })
  .strict();
export type CertsResponse = z.infer<typeof CertsResponse>;

/**
 * POST /v1/certs/rotate. `leaves`: every proxy renews its leaf now (the CA's
 * leaf generation goes up and rides in every snapshot). `root`: start a root
 * rotation; with `finish`, end the overlap now (drop the old roots).
 */
export const RotateRequest = z.discriminatedUnion('scope', [
  z.object({ scope: z.literal('leaves') }).strict(),
  z.object({ scope: z.literal('root'), finish: z.boolean().default(false) }).strict(),
]);
export type RotateRequest = z.infer<typeof RotateRequest>;

export const RotateResponse = z
  .object({
    scope: z.enum(['leaves', 'root']),
    // Leaves at or above this generation are renewed (GET /v1/certs `leaves[].generation`).
    leafGeneration: z.number().int().min(0),
    rotation: RootRotationStatus,
  })
  .strict();
export type RotateResponse = z.infer<typeof RotateResponse>;
