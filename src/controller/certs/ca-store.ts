// The CA's files under <stateDir>/ca: the active root (root.pem, root.key.pem),
// the next root of a rotation that is trusted but does not sign yet
// (next-root.pem, next-root.key.pem), the certificates of older roots still
// trusted during a rotation overlap (previous-roots.pem), the service token
// secret (token.key) and the issued index (issued.json, issued-index.ts). Directory
// 0700, keys 0600, written via rename so a crash never leaves half a key.
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MeshError } from '../../shared/errors.ts';
import type { RootMaterial } from './create-root.ts';

export class CaStore {
  readonly dir: string;
  private readonly warn: (msg: string) => void;

  constructor(stateDir: string, warn: (msg: string) => void = () => {}) {
    this.dir = join(stateDir, 'ca');
    this.warn = warn;
  }

  get rootCertPath(): string {
    return join(this.dir, 'root.pem');
  }
  get rootKeyPath(): string {
    return join(this.dir, 'root.key.pem');
  }
  get previousRootsPath(): string {
    return join(this.dir, 'previous-roots.pem');
  }

  get nextRootCertPath(): string {
    return join(this.dir, 'next-root.pem');
  }
  get nextRootKeyPath(): string {
    return join(this.dir, 'next-root.key.pem');
  }

  /** A rotation's next root (trusted, not signing yet), or undefined. */
  async readNext(): Promise<RootMaterial | undefined> {
    const [certPem, keyPem] = await Promise.all([readOptional(this.nextRootCertPath), readOptional(this.nextRootKeyPath)]);
    // Half a pair is a crash while writing or removing it: the rotation starts again.
    if (certPem === undefined || keyPem === undefined) return undefined;
    await chmod(this.nextRootKeyPath, 0o600);
    return { certPem, keyPem };
  }

  async writeNext(root: RootMaterial | undefined): Promise<void> {
    await this.ensureDir();
    if (!root) {
      await rm(this.nextRootCertPath, { force: true });
      await rm(this.nextRootKeyPath, { force: true });
      return;
    }
    await atomicWrite(this.nextRootKeyPath, root.keyPem, 0o600);
    await atomicWrite(this.nextRootCertPath, root.certPem, 0o644);
  }

  async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // mkdir's mode is masked by umask and ignored for an existing directory.
    await chmod(this.dir, 0o700);
  }

  /** The active root, or undefined on first use. */
  async readActive(): Promise<RootMaterial | undefined> {
    const [certPem, keyPem] = await Promise.all([readOptional(this.rootCertPath), readOptional(this.rootKeyPath)]);
    if (certPem === undefined && keyPem === undefined) return undefined;
    if (certPem === undefined || keyPem === undefined) {
      const missing = certPem === undefined ? this.rootCertPath : this.rootKeyPath;
      throw new MeshError('MESH_ERR_CA_STATE', `the mesh CA is incomplete: ${missing} is missing`);
    }
    const mode = (await stat(this.rootKeyPath)).mode & 0o777;
    if (mode !== 0o600) {
      this.warn(`${this.rootKeyPath} had mode ${mode.toString(8)}; set to 600`);
      await chmod(this.rootKeyPath, 0o600);
    }
    return { certPem, keyPem };
  }

  async writeActive(root: RootMaterial): Promise<void> {
    await this.ensureDir();
    // Key first: a crash between the renames leaves a new key with the old
    // certificate, which readActive's key check reports instead of using.
    await atomicWrite(this.rootKeyPath, root.keyPem, 0o600);
    await atomicWrite(this.rootCertPath, root.certPem, 0o644);
  }

  get tokenKeyPath(): string {
    return join(this.dir, 'token.key');
  }

  /** The secret behind service bootstrap tokens: 32 random bytes, created once. */
  async readOrCreateTokenKey(): Promise<Buffer> {
    const text = await readOptional(this.tokenKeyPath);
    if (text !== undefined) {
      const key = Buffer.from(text.trim(), 'base64');
      if (key.length !== 32) throw new MeshError('MESH_ERR_CA_STATE', `${this.tokenKeyPath} is not 32 base64 bytes`);
      await chmod(this.tokenKeyPath, 0o600);
      return key;
    }
    await this.ensureDir();
    const key = randomBytes(32);
    await atomicWrite(this.tokenKeyPath, `${key.toString('base64')}\n`, 0o600);
    return key;
  }

  async readPrevious(): Promise<string[]> {
    const text = await readOptional(this.previousRootsPath);
    return text ? splitPem(text) : [];
  }

  async writePrevious(certPems: string[]): Promise<void> {
    await this.ensureDir();
    if (certPems.length === 0) await rm(this.previousRootsPath, { force: true });
    else await atomicWrite(this.previousRootsPath, certPems.join(''), 0o644);
  }
}

export function splitPem(text: string): string[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\r?\n?/g)].map((m) =>
    m[0].endsWith('\n') ? m[0] : `${m[0]}\n`,
  );
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function atomicWrite(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode, flag: 'wx' });
  await chmod(tmp, mode); // writeFile's mode is masked by umask
  await rename(tmp, path);
}
