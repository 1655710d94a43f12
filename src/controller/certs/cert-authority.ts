// The mesh certificate authority: one persisted root (ECDSA P-256), short-lived
// SPIFFE leaves for authenticated services, a persisted index of what it
// issued, and root rotation in steps (next root trusted → next root signs →
// old roots retired) so the trust bundle always covers every live leaf. See README.md.
import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { MeshError } from '../../shared/errors.ts';
import { DEFAULT_TRUST_DOMAIN, controllerSpiffeId, spiffeId } from '../../shared/names.ts';
import type { SignResponse } from '../../shared/identity.ts';
import { x509, EC_P256 } from './x509.ts';
import { CaStore, splitPem } from './ca-store.ts';
import { createRoot, type RootMaterial } from './create-root.ts';
import { signLeaf, type Issuer } from './sign-leaf.ts';
import { IssuedIndex, type IssuedLeaf } from './issued-index.ts';

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
  state: 'active' | 'next' | 'previous';
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
  private next: { issuer: Issuer; material: RootMaterial } | undefined;
  private previous: x509.X509Certificate[];
  private readonly index: IssuedIndex;
  private readonly changeListeners = new Set<() => void>();

  private constructor(
    opts: CertAuthorityOptions,
    store: CaStore,
    active: Issuer,
    previous: x509.X509Certificate[],
    next: { issuer: Issuer; material: RootMaterial } | undefined,
    index: IssuedIndex,
  ) {
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
    this.next = next;
    this.index = index;
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
    const nextMaterial = await store.readNext();
    let next: { issuer: Issuer; material: RootMaterial } | undefined;
    if (nextMaterial) {
      const issuer = await loadIssuer(nextMaterial, store.nextRootCertPath);
      // Equal to the active root: a crash after activation, before the files went.
      if (issuer.cert.serialNumber === active.cert.serialNumber) await store.writeNext(undefined);
      else next = { issuer, material: nextMaterial };
    }
    const index = await IssuedIndex.open(store.dir, now());
    return new CertAuthority(opts, store, active, previous, next, index);
  }

  /** Called after every change of the trust bundle, the signing root or the leaf generation. */
  onChange(fn: () => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.changeListeners) fn();
  }

  private trusted(): x509.X509Certificate[] {
    return [this.active.cert, ...(this.next ? [this.next.issuer.cert] : []), ...this.previous];
  }

  /** PEM of every trusted root, the active one first. */
  trustBundlePem(): string {
    return this.trusted().map((c) => c.toString('pem') + '\n').join('');
  }

  roots(): RootInfo[] {
    return this.trusted().map((c, i) => ({
      serial: c.serialNumber.toLowerCase(),
      subject: c.subject,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      active: i === 0,
      state: i === 0 ? 'active' : this.next && c === this.next.issuer.cert ? 'next' : 'previous',
    }));
  }

  /** Subject of the root that signs leaves now. */
  get activeRootSubject(): string {
    return this.active.cert.subject;
  }

  /** A rotation's next root is trusted but does not sign yet. */
  get hasNextRoot(): boolean {
    return this.next !== undefined;
  }

  /** Older roots are still trusted (a rotation's overlap). */
  get hasPreviousRoots(): boolean {
    return this.previous.length > 0;
  }

  /** Leaves from a lower generation are to be renewed at once (snapshot tls.leafGeneration). */
  get leafGeneration(): number {
    return this.index.leafGeneration;
  }

  /** The last leaf issued to each service (persisted across restarts; for `meshctl certs`). */
  issued(): IssuedInfo[] {
    return this.index.lastPerService().map(({ service, spiffeId, serial, notBefore, notAfter, issuer }) => ({ service, spiffeId, serial, notBefore, notAfter, issuer }));
  }

  /** The last leaf issued to each proxy (service alone when the proxy sent no id). */
  leaves(): IssuedLeaf[] {
    return this.index.list();
  }

  /** Every proxy renews now: the generation goes up and rides in each snapshot. */
  async bumpLeafGeneration(): Promise<number> {
    try {
      this.index.setGeneration(this.index.leafGeneration + 1);
    } catch (err) {
      // Pushed all the same; after a restart the generation on disk is the older one.
      this.log(`mesh CA: could not write the issued index: ${(err as Error).message}`);
    }
    this.log(`mesh CA: leaf generation ${this.index.leafGeneration}; every proxy renews`);
    this.changed();
    return this.index.leafGeneration;
  }

  /**
   * Signs a CSR for `service`, which the caller (the controller API) has
   * authenticated. The CSR's own subject and SANs are ignored.
   */
  async sign(req: { csrPem: string; service: string; proxyId?: string }): Promise<SignResponse> {
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
    const generation = this.index.leafGeneration;
    // Written before the answer: once a proxy holds a leaf, a restarted controller lists it.
    // A failed write costs the listing, not the certificate.
    try {
      this.index.record(
        {
          service: req.service,
          ...(req.proxyId ? { proxyId: req.proxyId } : {}),
          spiffeId: id,
          serial,
          notBefore: leaf.notBefore.toISOString(),
          notAfter: leaf.notAfter.toISOString(),
          issuer: leaf.issuer,
          generation,
          issuedAt: new Date(now).toISOString(),
        },
        now,
      );
    } catch (err) {
      this.log(`mesh CA: could not write the issued index: ${(err as Error).message}`);
    }
    return {
      certChainPem: leaf.toString('pem') + '\n',
      trustBundlePem: this.trustBundlePem(),
      notBefore: leaf.notBefore.toISOString(),
      notAfter: leaf.notAfter.toISOString(),
      serial,
      generation,
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
   * Root rotation, step 1: a new root joins the trust bundle but does not sign
   * yet, so every proxy can learn it before anyone presents a leaf from it.
   */
  async prepareNextRoot(): Promise<RootInfo> {
    if (this.next) throw new MeshError('MESH_ERR_CONFLICT', 'a root rotation is already under way (a next root is waiting)', 'finish it first: `meshctl certs rotate-root --finish`');
    const material = await createRoot({ trustDomain: this.trustDomain, project: this.project, now: this.now(), ttlMs: this.rootTtlMs });
    const issuer = await loadIssuer(material, 'new root');
    await this.store.writeNext(material);
    this.next = { issuer, material };
    this.log(`mesh CA: next root ${issuer.cert.serialNumber} trusted; ${this.active.cert.serialNumber} still signs`);
    this.changed();
    return this.roots().find((r) => r.state === 'next')!;
  }

  /** Step 2: the next root signs from now on; the old one stays trusted (previous). */
  async activateNextRoot(): Promise<RootInfo> {
    const next = this.next;
    if (!next) throw new MeshError('MESH_ERR_CONFLICT', 'no next root to activate', 'start a rotation: `meshctl certs rotate-root`');
    const previous = [this.active.cert, ...this.previous];
    // Old roots are written before the new key replaces the active one, so a
    // crash in between never drops a root that leaves still depend on.
    await this.store.writePrevious(previous.map((c) => c.toString('pem') + '\n'));
    await this.store.writeActive(next.material);
    await this.store.writeNext(undefined);
    this.active = next.issuer;
    this.next = undefined;
    this.previous = previous;
    this.log(`mesh CA: rotated root; ${next.issuer.cert.serialNumber} signs, ${previous.length} previous root(s) still trusted`);
    this.changed();
    return this.roots()[0]!;
  }

  /**
   * Both steps at once: a new root signs from now on, the old one stays in
   * the trust bundle so leaves it signed keep verifying. (RootRotation pushes
   * the bundle between the steps; this is for tests and tools.)
   */
  async rotateRoot(): Promise<RootInfo> {
    await this.prepareNextRoot();
    return this.activateNextRoot();
  }

  /** Step 3, ends the overlap: only the active (and a waiting next) root stay trusted. */
  async retirePreviousRoots(): Promise<void> {
    await this.store.writePrevious([]);
    const n = this.previous.length;
    this.previous = [];
    this.log(`mesh CA: retired ${n} previous root(s)`);
    this.changed();
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
