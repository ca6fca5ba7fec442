import { createPublicKey, type KeyObject } from 'node:crypto';

/** The appliance's approval key from its SPKI PEM, or null when the text is not an Ed25519 public key. */
export function parseApprovalKey(pem: string): KeyObject | null {
  try {
    const key = createPublicKey(pem);
    return key.asymmetricKeyType === 'ed25519' ? key : null;
  } catch {
    return null;
  }
}
