// The mesh certificate authority: one persisted root (ECDSA P-256), short-lived
// SPIFFE leaves for authenticated services, and root rotation with an overlap
// in which the trust bundle holds the old and the new root. See README.md.
import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { MeshError } from '../../shared/errors.ts';
import { DEFAULT_TRUST_DOMAIN, controllerSpiffeId, spiffeId } from '../../shared/names.ts';
import type { SignResponse } from '../../shared/identity.ts';
import { x509, EC_P256 } from './x509.ts';
import { CaStore, splitPem } from './ca-store.ts';
import { createRoot, type RootMaterial } from './create-root.ts';
import { signLeaf, type Issuer } from './sign-leaf.ts';

const HOUR = 3600_000;
export const DEFAULT_LEAF_TTL_MS = 24 * HOUR;
export const DEFAULT_ROOT_TTL_MS = 10 * 365 * 24 * HOUR;
// Laptop clocks drift (Docker Desktop's VM lags after sleep): a leaf is valid
// from a little before the CA's now.
export const BACKDATE_MS = 5 * 60_000;

export interface CertAuthorityOptions {
  /** The project's state folder (`.mesh/`); the CA lives in `<stateDir>/ca`. */
  stateDir: string;
  project: string;
  trustDomain?: string;
  leafTtlMs?: number;
  rootTtlMs?: number;
  /** Clock in ms since the epoch; injectable for tests. */
  now?: () => number;
  /** Operational messages (never key material). */
  log?: (msg: string) => void;
}

export interface RootInfo {
  serial: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  active: boolean;
}

export interface IssuedInfo {
  service: string;
  spiffeId: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  issuer: string;
}

export class CertAuthority {
  readonly stateDir: string;
  readonly project: string;
  readonly trustDomain: string;
  readonly leafTtlMs: number;
  private readonly rootTtlMs: number;
  private readonly now: () => number;
  private readonly log: (msg: string) => void;
  private readonly store: CaStore;
  private active: Issuer;
  private previous: x509.X509Certificate[];
  private readonly issuedBy = new Map<string, IssuedInfo>();

  private constructor(opts: CertAuthorityOptions, store: CaStore, active: Issuer, previous: x509.X509Certificate[]) {
    this.stateDir = opts.stateDir;
    this.project = opts.project;
    this.trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    this.leafTtlMs = opts.leafTtlMs ?? DEFAULT_LEAF_TTL_MS;
    this.rootTtlMs = opts.rootTtlMs ?? DEFAULT_ROOT_TTL_MS;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
    this.store = store;
    this.active = active;
    this.previous = previous;
  }

  /** Loads the root from `<stateDir>/ca`, creating and persisting one on first use. */
  static async open(opts: CertAuthorityOptions): Promise<CertAuthority> {
    const log = opts.log ?? (() => {});
    const now = opts.now ?? Date.now;
    const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    const store = new CaStore(opts.stateDir, log);
    await store.ensureDir();
    let material = await store.readActive();
    if (!material) {
      material = await createRoot({ trustDomain, project: opts.project, now: now(), ttlMs: opts.rootTtlMs ?? DEFAULT_ROOT_TTL_MS });
      await store.writeActive(material);
      log(`mesh CA: created root ${new x509.X509Certificate(material.certPem).serialNumber} in ${store.dir}`);
    }
    const active = await loadIssuer(material, store.rootCertPath);
    const previous = (await store.readPrevious())
      .map((pem) => new x509.X509Certificate(pem))
      .filter((c) => c.serialNumber !== active.cert.serialNumber && c.notAfter.getTime() > now());
    return new CertAuthority(opts, store, active, previous);
  }

  /** PEM of every trusted root, the active one first. */
  trustBundlePem(): string {
    return [this.active.cert, ...this.previous].map((c) => c.toString('pem') + '\n').join('');
  }

  roots(): RootInfo[] {
    return [this.active.cert, ...this.previous].map((c, i) => ({
      serial: c.serialNumber.toLowerCase(),
      subject: c.subject,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      active: i === 0,
    }));
  }

  /** The last leaf issued to each service since this CA was opened (for `meshctl certs`). */
  issued(): IssuedInfo[] {
    return [...this.issuedBy.values()].sort((a, b) => a.service.localeCompare(b.service));
  }

  /**
   * Signs a CSR for `service`, which the caller (the controller API) has
   * authenticated. The CSR's own subject and SANs are ignored.
   */
  async sign(req: { csrPem: string; service: string }): Promise<SignResponse> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(req.service)) {
      throw new MeshError('MESH_ERR_CSR_INVALID', `"${req.service}" is not a compose service name`);
    }
    const now = this.now();
    const notBefore = new Date(Math.floor((now - BACKDATE_MS) / 1000) * 1000);
    // X.509 times have whole seconds: round up so a leaf lives at least its
    // TTL, yet never outlives the root that signs it.
    const notAfter = new Date(Math.min(Math.ceil((now + this.leafTtlMs) / 1000) * 1000, this.active.cert.notAfter.getTime()));
    const id = spiffeId(this.trustDomain, this.project, req.service);
    const leaf = await signLeaf(this.active, { csrPem: req.csrPem, spiffeId: id, dnsName: req.service, notBefore, notAfter });
    const serial = leaf.serialNumber.toLowerCase();
    this.issuedBy.set(req.service, {
      service: req.service,
      spiffeId: id,
      serial,
      notBefore: leaf.notBefore.toISOString(),
      notAfter: leaf.notAfter.toISOString(),
      issuer: leaf.issuer,
    });
    return {
      certChainPem: leaf.toString('pem') + '\n',
      trustBundlePem: this.trustBundlePem(),
      notBefore: leaf.notBefore.toISOString(),
      notAfter: leaf.notAfter.toISOString(),
      serial,
    };
  }

  /**
   * The controller's own server certificate for the mTLS push listener: a
   * fresh key made here (it never leaves this process) and a leaf for
   * `spiffe://<td>/compose/<project>/controller` with the given DNS names.
   */
  async issueControllerCert(dnsNames: string[]): Promise<{ keyPem: string; certPem: string; notBefore: Date; notAfter: Date }> {
    const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: [{ CN: ['controller'] }], keys, signingAlgorithm: EC_P256 });
    const now = this.now();
    const notBefore = new Date(Math.floor((now - BACKDATE_MS) / 1000) * 1000);
    const notAfter = new Date(Math.min(Math.ceil((now + this.leafTtlMs) / 1000) * 1000, this.active.cert.notAfter.getTime()));
    const [first, ...rest] = dnsNames.length ? dnsNames : ['localhost'];
    const leaf = await signLeaf(this.active, { csrPem: csr.toString('pem'), spiffeId: controllerSpiffeId(this.trustDomain, this.project), dnsName: first!, extraDnsNames: rest, notBefore, notAfter });
    const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
    return { keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), certPem: leaf.toString('pem') + '\n', notBefore: leaf.notBefore, notAfter: leaf.notAfter };
  }

  /**
   * Starts a root rotation: a new root signs from now on, the old one stays
   * in the trust bundle so leaves it signed keep verifying. Push the new
   * bundle to every proxy, let them renew, then call retirePreviousRoots().
   */
  async rotateRoot(): Promise<RootInfo> {
    const material = await createRoot({ trustDomain: this.trustDomain, project: this.project, now: this.now(), ttlMs: this.rootTtlMs });
    const next = await loadIssuer(material, 'new root');
    const previous = [this.active.cert, ...this.previous];
    // Old roots are written before the new key replaces the active one, so a
    // crash in between never drops a root that leaves still depend on.
    await this.store.writePrevious(previous.map((c) => c.toString('pem') + '\n'));
    await this.store.writeActive(material);
    this.active = next;
    this.previous = previous;
    this.log(`mesh CA: rotated root; ${next.cert.serialNumber} signs, ${previous.length} previous root(s) still trusted`);
    return this.roots()[0]!;
  }

  /** Ends the overlap: only the active root stays trusted. */
  async retirePreviousRoots(): Promise<void> {
    await this.store.writePrevious([]);
    const n = this.previous.length;
    this.previous = [];
    this.log(`mesh CA: retired ${n} previous root(s)`);
  }
}

async function loadIssuer(material: RootMaterial, where: string): Promise<Issuer> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(splitPem(material.certPem)[0] ?? material.certPem);
  } catch (err) {
    throw new MeshError('MESH_ERR_CA_STATE', `${where} is not a PEM certificate: ${(err as Error).message}`);
  }
  let spkiFromKey: Buffer;
  try {
    spkiFromKey = createPublicKey(createPrivateKey(material.keyPem)).export({ type: 'spki', format: 'der' });
  } catch {
    // The parse error could quote key bytes; say only what failed.
    throw new MeshError('MESH_ERR_CA_STATE', `the root key beside ${where} does not parse as a PKCS#8 PEM key`);
  }
  if (!Buffer.from(cert.publicKey.rawData).equals(spkiFromKey)) {
    throw new MeshError('MESH_ERR_CA_STATE', `the root key does not belong to the root certificate ${where}`);
  }
  const der = x509.PemConverter.decodeFirst(material.keyPem);
  const key = await webcrypto.subtle.importKey('pkcs8', der, EC_P256, false, ['sign']);
  return { cert, key: key as CryptoKey };
}
