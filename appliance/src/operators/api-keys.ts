import { randomBytes } from 'node:crypto';
import { hashSecret, verifySecret } from '../security/scrypt.ts';

// scrypt cost N=2^15 (OWASP's minimum is 2^17 with p=1 for passwords; a key has 256 random bits, so the hash
// only has to keep a stolen table from being replayed, not resist guessing).
const KEY_COST = 15;

const KEY_PATTERN = /^dok_([0-9a-f-]{36})_([A-Za-z0-9_-]{43})$/;

/** A new API key for a slot: the slot id in clear (to find the hash) and 256 random bits. Shown once. */
export function newApiKey(slotId: string): string {
  return `dok_${slotId}_${randomBytes(32).toString('base64url')}`;
}

/** The slot a key claims to belong to, or null for anything that is not shaped like one of our keys. */
export function slotIdOf(apiKey: string): string | null {
  return KEY_PATTERN.exec(apiKey)?.[1] ?? null;
}

export function hashApiKey(apiKey: string): Promise<string> {
  return hashSecret(apiKey, KEY_COST);
}

export function verifyApiKey(apiKey: string, stored: string): Promise<boolean> {
  return verifySecret(apiKey, stored);
}
