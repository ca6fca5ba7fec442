import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PkiError, writePrivateKey } from '@dropops/pki';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 1;

export const sessionKeyPath = (dataDir: string) => join(dataDir, 'session.key');

/**
 * The AES-256-GCM key that seals console sessions at rest: 32 random bytes (base64url) in the data dir, 0600,
 * made on first start. Replicas must share it, as they share the CA directory.
 */
export function loadSessionKey(dataDir: string): Buffer {
  const path = sessionKeyPath(dataDir);
  try {
    writePrivateKey(path, randomBytes(KEY_BYTES).toString('base64url') + '\n');
  } catch (err) {
    // Another start (or another replica) made it first: use that one.
    if (!(err instanceof PkiError && err.code === 'KEY_EXISTS')) throw err;
  }
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64url');
  if (key.length !== KEY_BYTES) {
    throw new Error(
      `${path} does not hold a 32-byte key; remove it (every console session ends) and start again.`,
    );
  }
  return key;
}

/**
 * Seals and opens session records. The row's key is bound in as additional data, so a sealed record copied
 * onto another row does not open.
 */
export class Sealer {
  constructor(private readonly key: Buffer) {}

  seal(value: unknown, boundTo: Buffer): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(boundTo);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), iv, cipher.getAuthTag(), body]);
  }

  /** The sealed value, or null when it was not sealed with this key for this row (or was tampered with). */
  open(sealed: Buffer, boundTo: Buffer): unknown {
    if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) return null;
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAAD(boundTo);
      decipher.setAuthTag(tag);
      const text = Buffer.concat([
        decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]);
      return JSON.parse(text.toString('utf8'));
    } catch {
      return null;
    }
  }
}
