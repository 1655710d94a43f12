// Turns certificate time errors into messages that name the certificate's
// validity window and the local clock, since the usual cause is clock drift
// (Docker Desktop's VM lags after the laptop sleeps), not a bad certificate.
import type { PeerCertificate } from 'node:tls';
import { MeshError } from '../../shared/errors.ts';

export interface CertTimes {
  serial?: string;
  subject?: string; // SPIFFE id or subject, to say which certificate
  notBefore: Date;
  notAfter: Date;
}

const EXPIRED = /CERT_HAS_EXPIRED|CERTIFICATE_EXPIRED/;
const NOT_YET_VALID = /CERT_NOT_YET_VALID/;

export function isCertTimeError(code: string | undefined): boolean {
  return !!code && (EXPIRED.test(code) || NOT_YET_VALID.test(code));
}

export function timesOf(cert: PeerCertificate): CertTimes {
  const uri = /URI:(spiffe:\/\/[^,\s]+)/.exec(cert.subjectaltname ?? '')?.[1];
  return { serial: cert.serialNumber?.toLowerCase(), subject: uri ?? String(cert.subject?.CN ?? ''), notBefore: new Date(cert.valid_from), notAfter: new Date(cert.valid_to) };
}

/**
 * `code` is the TLS error code (CERT_HAS_EXPIRED, ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED,
 * an authorizationError, ...); `whose` says whose certificate `cert` is.
 * Returns undefined when the code is not about certificate times.
 */
export function explainCertTimeError(
  code: string | undefined,
  cert: CertTimes | undefined,
  now: number,
  whose: 'peer' | 'own' = 'peer',
): MeshError | undefined {
  if (!isCertTimeError(code)) return undefined;
  const expired = EXPIRED.test(code!);
  const clock = new Date(now).toISOString();
  const which = `${whose === 'own' ? 'our' : "the peer's"} certificate${cert?.serial ? ` ${cert.serial}` : ''}${cert?.subject ? ` (${cert.subject})` : ''}`;
  const window = cert
    ? `is valid from ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()}, and the local clock is ${clock}` +
      ` (${expired ? `${ago(now - cert.notAfter.getTime())} past notAfter` : `${ago(cert.notBefore.getTime() - now)} before notBefore`})`
    : `has validity times this side could not read; the local clock is ${clock}`;
  return new MeshError(
    expired ? 'MESH_ERR_CERT_EXPIRED' : 'MESH_ERR_CERT_NOT_YET_VALID',
    `${code}: ${which} ${window}`,
  );
}

function ago(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const sign = ms < 0 ? '-' : '';
  if (s < 120) return `${sign}${s}s`;
  if (s < 7200) return `${sign}${Math.round(s / 60)}min`;
  return `${sign}${(s / 3600).toFixed(1)}h`;
}
