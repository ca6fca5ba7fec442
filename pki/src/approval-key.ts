import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { PkiError } from './errors.ts';
import { caFiles } from './files.ts';
import { generateEd25519KeyPair, writePrivateKey } from './keys.ts';

/** The key that signs approval tokens. It lives in the CA directory beside the issuing key. */
export interface ApprovalKey {
  privateKey: KeyObject;
  /** SPKI PEM, the form operators receive at enrollment and pin. */
  publicKeyPem: string;
}

/**
 * Creates the approval key unless the directory already has one. The private key is written under a
 * unique name and hard-linked into place, so two replicas starting together on an older CA directory
 * end up sharing one key, and nobody ever reads a half-written file.
 */
export function ensureApprovalKey(dir: string): void {
  const path = caFiles(dir).approvalKey;
  if (existsSync(path)) return;
  const staging = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writePrivateKey(staging, generateEd25519KeyPair().privateKeyPem);
  try {
    linkSync(staging, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(staging, { force: true });
  }
}

function readPrivateKey(path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(path));
  } catch {
    throw new PkiError('BAD_ARGUMENT', `${path} is not a readable private key; restore it from a backup.`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new PkiError(
      'UNSUPPORTED_KEY',
      `${path} holds a ${key.asymmetricKeyType} key; the approval key must be Ed25519.`,
    );
  }
  return key;
}

/** The approval key of a CA directory, created first when an older install has none. */
export function loadApprovalKey(dir: string): ApprovalKey {
  const files = caFiles(dir);
  ensureApprovalKey(dir);
  const privateKey = readPrivateKey(files.approvalKey);
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  // `approval.pub.pem` is for people and tools; the key in use is always derived from the private half.
  if (!existsSync(files.approvalPub)) {
    const staging = `${files.approvalPub}.${process.pid}.tmp`;
    writeFileSync(staging, publicKeyPem, { mode: 0o644 });
    renameSync(staging, files.approvalPub);
  }
  return { privateKey, publicKeyPem };
}

/** The SPKI PEM that operators pin. */
export const approvalPublicKeyPem = (dir: string): string => loadApprovalKey(dir).publicKeyPem;
