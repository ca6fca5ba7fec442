import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PkiError } from './errors.ts';

export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

/** Key pairs come from OpenSSL through node:crypto; node-forge only lays out the certificates. */
export function generateKeyPair(bits: 2048 | 3072 | 4096 = 2048): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** An Ed25519 pair for signatures that are not certificates (approval tokens). */
export function generateEd25519KeyPair(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** Writes a private key readable by its owner only, refusing to replace one that is already there. */
export function writePrivateKey(path: string, pem: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new PkiError(
        'KEY_EXISTS',
        `${path} already exists; move it away first if you really mean to replace it.`,
      );
    }
    throw err;
  }
}
