// How an operator's identity is written into its certificate, and read back out by the relay.
import type { X509Certificate } from 'node:crypto';

export function operatorUri(trustDomain: string, org: string, operatorId: string): string {
  return `spiffe://${trustDomain}/org/${org}/operator/${operatorId}`;
}

const FINGERPRINT_URN = 'urn:dropops:host-fingerprint:sha256:';

export function fingerprintUri(fingerprint: string): string {
  return FINGERPRINT_URN + fingerprint;
}

export interface OperatorIdentity {
  trustDomain: string;
  org: string;
  operatorId: string;
  fingerprint: string;
}

/** Reads the identity from the URI SANs; returns null for a certificate that is not an operator's. */
export function operatorIdentityOf(cert: X509Certificate): OperatorIdentity | null {
  const uris = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4));
  let identity: Omit<OperatorIdentity, 'fingerprint'> | null = null;
  let fingerprint: string | null = null;
  for (const uri of uris) {
    const spiffe = /^spiffe:\/\/([a-z0-9.-]+)\/org\/([a-z0-9-]+)\/operator\/([A-Za-z0-9-]+)$/.exec(uri);
    if (spiffe) identity = { trustDomain: spiffe[1]!, org: spiffe[2]!, operatorId: spiffe[3]! };
    if (uri.startsWith(FINGERPRINT_URN) && /^[0-9a-f]{64}$/.test(uri.slice(FINGERPRINT_URN.length))) {
      fingerprint = uri.slice(FINGERPRINT_URN.length);
    }
  }
  return identity && fingerprint ? { ...identity, fingerprint } : null;
}
