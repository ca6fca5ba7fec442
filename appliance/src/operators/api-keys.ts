import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: object,
) => Promise<Buffer>;

// scrypt cost: N=2^15, r=8, p=1 (OWASP's minimum is 2^17 with p=1 for passwords; a key has 256 random bits,
// so the hash only has to keep a stolen table from being replayed, not resist guessing).
const N = 1 << 15;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
const SCRYPT_OPTIONS = { N, r: R, p: P, maxmem: 128 * N * R * 2 };

const KEY_PATTERN = /^dok_([0-9a-f-]{36})_([A-Za-z0-9_-]{43})$/;

/** A new API key for a slot: the slot id in clear (to find the hash) and 256 random bits. Shown once. */
export function newApiKey(slotId: string): string {
  return `dok_${slotId}_${randomBytes(32).toString('base64url')}`;
}

/** The slot a key claims to belong to, or null for anything that is not shaped like one of our keys. */
export function slotIdOf(apiKey: string): string | null {
  return KEY_PATTERN.exec(apiKey)?.[1] ?? null;
}

export async function hashApiKey(apiKey: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(apiKey, salt, KEY_LENGTH, SCRYPT_OPTIONS);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function verifyApiKey(apiKey: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(apiKey, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 128 * Number(n) * Number(r) * 2,
  });
  return timingSafeEqual(actual, expected);
}
