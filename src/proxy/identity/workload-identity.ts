// The proxy's identity: its in-memory key and current leaf, renewed at about
// two thirds of the lifetime, and the node:tls contexts built from them.
// Rotation swaps contexts for new handshakes only; live connections keep the
// context they were made with, so nothing in flight is dropped.
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { MeshError } from '../../shared/errors.ts';
import { SignResponse, type SignRequest } from '../../shared/identity.ts';
import { createKeyAndCsr } from './create-key-and-csr.ts';
import { systemClock, type Clock } from './clock.ts';
import { checkSpiffeId, spiffeIdOf } from './spiffe-san.ts';
import { explainCertTimeError, isCertTimeError, timesOf } from './explain-tls-error.ts';
import { verifiedPeerSymbol } from './peer-identity.ts';

export type Signer = (req: SignRequest) => Promise<unknown>;

export interface WorkloadIdentityOptions {
  service: string;
  /** Sends the CSR to the controller's CA; the answer is validated here. */
  signer: Signer;
  token?: string;
  /** This sidecar's proxy id, sent with each CSR for the CA's issued index. */
  proxyId?: string;
  clock?: Clock;
  /** Renew after this fraction of the lifetime left at receipt (default 2/3). */
  renewFraction?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  onError?: (err: Error) => void;
  /** Resumable client sessions kept (one per peer). */
  maxSessions?: number;
  /** TLS ticket lifetime in seconds (default 300). */
  sessionTimeoutS?: number;
}

export interface IdentityMaterial {
  spiffeId: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  certChainPem: string;
  trustBundlePem: string;
  keyPem: string;
  receivedAt: number;
  renewAt: number;
  /** The CA's leaf generation when it signed this leaf (0: static, or a CA without one). */
  generation: number;
}

export interface ClientConnectOptions {
  host: string;
  port: number;
  /** The SPIFFE id the server must present. */
  expectedSpiffeId: string;
  /** ALPN offer; default ['h2', 'http/1.1']. */
  alpn?: string[];
  servername?: string;
}

export interface TlsRejection {
  /** OpenSSL / node:tls code, e.g. ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE, CERT_HAS_EXPIRED. */
  reason: string;
  message: string;
  remoteAddress?: string;
}

const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;
export const MESH_ALPN = ['h2', 'http/1.1'];
const refusedPeerCert = Symbol('meshctl.refusedPeerCert');

/**
 * Picks h2, else http/1.1 (none of these: the handshake fails). node:tls calls
 * it as a method of the server-side TLSSocket; we use that to read the
 * client's certificate before node:tls destroys a refused socket, since
 * 'tlsClientError' then only has the reason code.
 */
function selectAlpn(this: unknown, { protocols }: { protocols: string[] }): string | undefined {
  if (this instanceof tls.TLSSocket) {
    const socket = this;
    // Before node:tls's own 'secure' handler, which decides and may destroy.
    socket.prependOnceListener('secure', () => {
      const c = socket.getPeerCertificate();
      if (c && c.raw) (socket as unknown as Record<symbol, tls.PeerCertificate>)[refusedPeerCert] = c;
    });
  }
  return MESH_ALPN.find((p) => protocols.includes(p));
}

interface Contexts {
  server: tls.SecureContextOptions;
  client: tls.SecureContext;
}

export class WorkloadIdentity {
  readonly service: string;
  private readonly opts: WorkloadIdentityOptions;
  private readonly clock: Clock;
  private material: IdentityMaterial | undefined;
  private contexts: Contexts | undefined;
  private timer: unknown;
  private inflight: Promise<IdentityMaterial> | undefined;
  private failures = 0;
  private closed = false;
  private readonly listeners = new Set<(m: IdentityMaterial) => void>();
  private readonly sessions = new Map<string, { session: Buffer; spiffeId: string; serial?: string }>();
  /** Highest generation a renewal was started for (renewIfOlderThan): one renewal per request. */
  private renewedFor = 0;

  private constructor(opts: WorkloadIdentityOptions) {
    this.opts = opts;
    this.service = opts.service;
    this.clock = opts.clock ?? systemClock;
  }

  /** Gets the first certificate (rejects if the CA does not sign) and arms renewal. */
  static async start(opts: WorkloadIdentityOptions): Promise<WorkloadIdentity> {
    const id = new WorkloadIdentity(opts);
    try {
      await id.renewNow();
    } catch (err) {
      id.close(); // no background retries for an identity the caller never got
      throw err;
    }
    return id;
  }

  /**
   * Static material (`meshctl proxy --config` with --tls-cert/--tls-key/--tls-ca,
   * tests, benches): no signer, no renewal; the leaf is used until it expires.
   */
  static fromPem(o: { certChainPem: string; keyPem: string; trustBundlePem: string; clock?: Clock }): WorkloadIdentity {
    const leaf = new X509Certificate(o.certChainPem);
    if (!leaf.checkPrivateKey(createPrivateKey(o.keyPem))) {
      throw new MeshError('MESH_ERR_IDENTITY_UNAVAILABLE', 'the certificate does not belong to the private key given with it');
    }
    const spiffeId = spiffeIdOf({ subjectaltname: leaf.subjectAltName });
    if (!spiffeId) throw new MeshError('MESH_ERR_IDENTITY_UNAVAILABLE', 'the certificate has no SPIFFE id (URI SAN spiffe://...)');
    const service = spiffeId.slice(spiffeId.lastIndexOf('/') + 1);
    const signer: Signer = () => Promise.reject(new MeshError('MESH_ERR_IDENTITY_UNAVAILABLE', 'static certificate files: no CA to renew from'));
    const id = new WorkloadIdentity({ service, signer, clock: o.clock });
    id.closed = true; // never schedules a renewal
    const now = id.clock.now();
    id.install({
      spiffeId,
      serial: leaf.serialNumber.toLowerCase(),
      notBefore: new Date(leaf.validFrom),
      notAfter: new Date(leaf.validTo),
      certChainPem: o.certChainPem,
      trustBundlePem: o.trustBundlePem,
      keyPem: o.keyPem,
      receivedAt: now,
      renewAt: Infinity,
      generation: 0,
    });
    return id;
  }

  /** The current leaf; throws until the first one arrived. */
  current(): IdentityMaterial {
    if (!this.material) throw new MeshError('MESH_ERR_IDENTITY_UNAVAILABLE', `no certificate yet for ${this.service}`);
    return this.material;
  }

  /** Called after every rotation or trust bundle change. Returns an unsubscribe. */
  onRotate(fn: (m: IdentityMaterial) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** New key, new CSR, new leaf. Concurrent calls share one request. */
  renewNow(): Promise<IdentityMaterial> {
    this.inflight ??= this.issue().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /**
   * The controller asks for leaves of at least `generation` (snapshot
   * tls.leafGeneration: `meshctl certs rotate`, a root rotation): renew now if
   * ours is older. Once per generation, so a CA that answers with an older one
   * cannot make it loop; failures retry with the usual backoff.
   */
  renewIfOlderThan(generation: number): void {
    if (this.closed || !this.material || generation <= this.renewedFor || this.material.generation >= generation) return;
    this.renewedFor = generation;
    // A renewal already under way may have been signed before the bump: renew once more after it.
    const after = this.inflight ?? Promise.resolve();
    void after
      .catch(() => {})
      .then(() => (this.material && this.material.generation < generation ? this.renewNow() : undefined))
      .catch(() => {}); // reported through onError, retried by issue()
  }

  /** New roots from the controller (root rotation) without a new leaf. */
  updateTrustBundle(trustBundlePem: string): void {
    const m = this.current();
    // Identical push, or the same roots in another order (a root rotation's
    // step 2 swaps active and next): touch nothing, so no session is recycled.
    if (m.trustBundlePem === trustBundlePem || sameCertificates(m.trustBundlePem, trustBundlePem)) return;
    this.install({ ...m, trustBundlePem });
  }

  /** Options for tls.createServer / http2.createSecureServer: mTLS, TLS 1.3 only. */
  serverOptions(): tls.TlsOptions {
    return {
      ...this.currentContexts().server,
      requestCert: true,
      rejectUnauthorized: true,
      // A callback rather than ALPNProtocols: http2.createSecureServer keeps
      // it (it replaces ALPNProtocols with ['h2']), and it hands us the socket
      // early enough to keep a refused peer's certificate for the message.
      ALPNCallback: selectAlpn,
    };
  }

  /**
   * Keeps `server` on the current certificate (server.setSecureContext on
   * each rotation; live connections finish on the old context) and reports
   * refused handshakes with their reason. Returns a detach function.
   */
  attachServer(server: tls.Server, onReject?: (r: TlsRejection) => void): () => void {
    const off = this.onRotate(() => server.setSecureContext(this.currentContexts().server));
    const onClientError = (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      onReject?.(this.describeRejection(err, socket));
    };
    if (onReject) server.on('tlsClientError', onClientError);
    return () => {
      off();
      server.off('tlsClientError', onClientError);
    };
  }

  /**
   * Options for tls.connect: our certificate, the trust bundle as CA, and a
   * check that the server's URI SAN is `expectedSpiffeId`. Prefer connect(),
   * which also resumes sessions.
   */
  clientOptions(expectedSpiffeId: string, alpn: string[] = MESH_ALPN): tls.ConnectionOptions {
    return {
      ...TLS13,
      secureContext: this.currentContexts().client,
      checkServerIdentity: checkSpiffeId(expectedSpiffeId),
      ALPNProtocols: alpn,
      rejectUnauthorized: true,
    };
  }

  /**
   * A mutual-TLS connection to a peer sidecar, resuming the last session with
   * that peer when there is one. For HTTP/2 pass it as createConnection to
   * http2.connect. Certificate time errors are rewritten to name the
   * certificate's validity window and the local clock.
   */
  connect(o: ClientConnectOptions): tls.TLSSocket {
    const own = this.current();
    const now = this.clock.now();
    if (now >= own.notAfter.getTime() || now < own.notBefore.getTime()) {
      const code = now >= own.notAfter.getTime() ? 'CERT_HAS_EXPIRED' : 'CERT_NOT_YET_VALID';
      throw explainCertTimeError(code, { serial: own.serial, subject: own.spiffeId, notBefore: own.notBefore, notAfter: own.notAfter }, now, 'own');
    }
    const key = `${o.host}:${o.port}|${o.expectedSpiffeId}`;
    const cached = this.sessions.get(key);
    const socket = tls.connect({
      ...this.clientOptions(o.expectedSpiffeId, o.alpn),
      host: o.host,
      port: o.port,
      servername: o.servername ?? (isIP(o.host) ? undefined : o.host),
      session: cached?.session,
    });
    let peerCert: tls.PeerCertificate | undefined;
    let verified = false;
    const pending: Buffer[] = [];
    // Runs before node:tls's own 'secure' handler, which may destroy the
    // socket and with it the peer certificate an error message needs.
    // (getPeerX509Certificate() here would empty the later getPeerCertificate().)
    socket.prependListener('secure', () => {
      const c = socket.getPeerCertificate();
      peerCert = c && c.raw ? c : undefined;
    });
    socket.prependListener('error', (err: Error & { code?: string }) => {
      const code = err.code ?? socket.authorizationError?.toString();
      if (!isCertTimeError(code)) return;
      const explained = explainCertTimeError(code, peerCert ? timesOf(peerCert) : undefined, this.clock.now(), /ALERT/.test(code!) ? 'own' : 'peer');
      if (explained) err.message = explained.message;
    });
    socket.once('secureConnect', () => {
      verified = socket.authorized;
      const store = (session: Buffer) => {
        const spiffeId = peerCert ? spiffeIdOf(peerCert) : cached?.spiffeId;
        if (verified && spiffeId) this.rememberSession(key, { session, spiffeId, serial: peerCert?.serialNumber.toLowerCase() ?? cached?.serial });
      };
      if (socket.isSessionReused() && cached) {
        (socket as unknown as Record<symbol, unknown>)[verifiedPeerSymbol] = { spiffeId: cached.spiffeId, serial: cached.serial };
      }
      pending.splice(0).forEach(store);
      socket.on('session', store);
    });
    // TLS 1.3 tickets usually arrive after secureConnect; keep any earlier one.
    socket.on('session', (s: Buffer) => {
      if (!verified) pending.push(s);
    });
    return socket;
  }

  /** Stops renewal. Connections already made are not touched. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.sessions.clear();
  }

  private describeRejection(err: Error & { code?: string }, socket: tls.TLSSocket): TlsRejection {
    // node:tls verifies the client certificate after the handshake and then
    // destroys the socket: the reason is in authorizationError, not err.
    const reason = (err.code === 'ECONNRESET' && socket.authorizationError ? String(socket.authorizationError) : err.code) ?? 'UNKNOWN';
    const cert = (socket as unknown as Record<symbol, tls.PeerCertificate | undefined>)[refusedPeerCert];
    const explained = explainCertTimeError(reason, cert ? timesOf(cert) : undefined, this.clock.now(), 'peer');
    return {
      reason,
      message: explained ? `client certificate refused: ${explained.message}` : `client refused: ${reason}: ${err.message}`,
      remoteAddress: socket.remoteAddress,
    };
  }

  private currentContexts(): Contexts {
    this.current();
    return this.contexts!;
  }

  private rememberSession(key: string, entry: { session: Buffer; spiffeId: string; serial?: string }): void {
    this.sessions.delete(key); // re-insert: Map order is the LRU order
    this.sessions.set(key, entry);
    const max = this.opts.maxSessions ?? 1024;
    if (this.sessions.size > max) this.sessions.delete(this.sessions.keys().next().value!);
  }

  private async issue(): Promise<IdentityMaterial> {
    const { keyPem, csrPem } = await createKeyAndCsr(this.service);
    try {
      const raw = await this.opts.signer({
        csrPem, service: this.service, ...(this.opts.token ? { token: this.opts.token } : {}), ...(this.opts.proxyId ? { proxyId: this.opts.proxyId } : {}),
      });
      const res = SignResponse.parse(raw);
      const leaf = new X509Certificate(res.certChainPem);
      if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) {
        throw new MeshError('MESH_ERR_IDENTITY_UNAVAILABLE', 'the CA returned a certificate for another key');
      }
      const spiffeId = spiffeIdOf({ subjectaltname: leaf.subjectAltName });
      if (!spiffeId) throw new MeshError('MESH_ERR_IDENTITY_UNAVAILABLE', 'the CA returned a certificate without a SPIFFE id');
      const receivedAt = this.clock.now();
      const notAfter = new Date(res.notAfter);
      const fraction = this.opts.renewFraction ?? 2 / 3;
      // Measured from receipt, not notBefore: notBefore is backdated, and the
      // CA's clock may differ from ours.
      const renewAt = receivedAt + Math.max(0, (notAfter.getTime() - receivedAt) * fraction);
      const m: IdentityMaterial = {
        spiffeId,
        serial: res.serial,
        notBefore: new Date(res.notBefore),
        notAfter,
        certChainPem: res.certChainPem,
        trustBundlePem: res.trustBundlePem,
        keyPem,
        receivedAt,
        renewAt,
        generation: res.generation ?? 0,
      };
      this.install(m);
      if (notAfter.getTime() > receivedAt) {
        this.failures = 0;
        this.schedule(renewAt - receivedAt);
        return m;
      }
      // Expired on arrival: the CA's clock and ours disagree. Keep it (connect()
      // explains the clocks) but retry with backoff, not in a tight loop.
      this.failures++;
      const times = { serial: m.serial, subject: spiffeId, notBefore: m.notBefore, notAfter };
      this.opts.onError?.(explainCertTimeError('CERT_HAS_EXPIRED', times, receivedAt, 'own') ?? new Error(`the CA signed a leaf that expired at ${notAfter.toISOString()}`));
      this.schedule(this.retryDelay());
      return m;
    } catch (err) {
      this.failures++;
      const e = err instanceof Error ? err : new Error(String(err));
      this.opts.onError?.(e);
      // Keep the current leaf and retry with backoff; it stays valid until
      // notAfter, which leaves the last third of its life for retries.
      this.schedule(this.retryDelay());
      throw e;
    }
  }

  private retryDelay(): number {
    return Math.min((this.opts.retryMinMs ?? 1000) * 2 ** (this.failures - 1), this.opts.retryMaxMs ?? 30_000);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.renewNow().catch(() => {}); // reported through onError, retried by issue()
    }, ms);
  }

  private install(m: IdentityMaterial): void {
    const base = { key: m.keyPem, cert: m.certChainPem, ca: m.trustBundlePem, ...TLS13 };
    this.contexts = {
      // Fresh ticket keys per certificate: a session resumed across a rotation
      // would skip the new certificate, so the first handshake after one is full.
      server: { ...base, ticketKeys: randomBytes(48), sessionTimeout: this.opts.sessionTimeoutS ?? 300 },
      client: tls.createSecureContext(base),
    };
    this.material = m;
    // Sessions were made with the old client certificate; start afresh.
    this.sessions.clear();
    for (const fn of this.listeners) {
      try {
        fn(m);
      } catch (err) {
        // One failing subscriber must not keep the others on the old leaf.
        this.opts.onError?.(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }
}

function sameCertificates(a: string, b: string): boolean {
  const set = (pem: string) => (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((c) => c.replace(/\s+/g, '')).sort().join('|');
  return set(a) === set(b);
}
