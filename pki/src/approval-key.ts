import { loadOrCreateEd25519Key, type Ed25519Key } from './ed25519-key.ts';
import { caFiles } from './files.ts';

/** The key that signs approval tokens, beside the issuing key; `publicKeyPem` is what operators pin. */
export type ApprovalKey = Ed25519Key;

/** The approval key of a CA directory, created first (with `approval.pub.pem`) when an older install has none. */
export function loadApprovalKey(dir: string): ApprovalKey {
  const files = caFiles(dir);
  return loadOrCreateEd25519Key({ key: files.approvalKey, pub: files.approvalPub }, 'approval');
}

/** The SPKI PEM that operators pin. */
export const approvalPublicKeyPem = (dir: string): string => loadApprovalKey(dir).publicKeyPem;
