import { createHash, X509Certificate } from 'node:crypto';

/** The SPKI pin of a certificate: sha256 over its SubjectPublicKeyInfo, base64 (as in HPKP and curl's --pinnedpubkey). */
export function spkiPin(certPem: string | X509Certificate): string {
  const cert = typeof certPem === 'string' ? new X509Certificate(certPem) : certPem;
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** Accepts a pin written as `sha256/<base64>` or bare base64. */
export function normalisePin(pin: string): string {
  return pin.trim().replace(/^sha256\//, '');
}
