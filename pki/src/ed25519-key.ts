import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { PkiError } from './errors.ts';
import { generateEd25519KeyPair, writePrivateKey } from './keys.ts';

export interface Ed25519KeyFiles {
  /** The private key, PKCS#8 PEM, 0600. */
  key: string;
  /** Its public half, SPKI PEM, 0644: for people and tools; the key in use is derived from the private half. */
  pub: string;
}

export interface Ed25519Key {
  privateKey: KeyObject;
  publicKeyPem: string;
}

/**
 * Creates the key unless it exists. The private key is written under a unique name and hard-linked into
 * place, so two processes creating it together end up sharing one key and nobody reads a half-written file.
 */
function ensureKeyFile(path: string): void {
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

/** Loads an Ed25519 signing key kept in a CA directory, creating it (and its `.pub.pem`) on first use. */
export function loadOrCreateEd25519Key(files: Ed25519KeyFiles, purpose: string): Ed25519Key {
  ensureKeyFile(files.key);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(files.key));
  } catch {
    throw new PkiError(
      'BAD_ARGUMENT',
      `${files.key} is not a readable private key; restore it from a backup.`,
    );
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new PkiError(
      'UNSUPPORTED_KEY',
      `${files.key} holds a ${privateKey.asymmetricKeyType} key; the ${purpose} key must be Ed25519.`,
    );
  }
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  if (!existsSync(files.pub)) {
    const staging = `${files.pub}.${process.pid}.tmp`;
    writeFileSync(staging, publicKeyPem, { mode: 0o644 });
    renameSync(staging, files.pub);
  }
  return { privateKey, publicKeyPem };
}
