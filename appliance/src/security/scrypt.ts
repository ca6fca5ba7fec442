import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (
  secret: string,
  salt: Buffer,
  keylen: number,
  options: object,
) => Promise<Buffer>;

const R = 8;
const P = 1;
const KEY_LENGTH = 32;
// Node refuses scrypt above 32 MiB by default; allow twice what the cost needs (128·N·r bytes).
const maxmem = (n: number, r: number) => 128 * n * r * 2;

/**
 * Hashes a secret as `scrypt$N$r$p$salt$hash` (16-byte salt, 32-byte hash, base64url). `log2N` is the cost:
 * 15 for random keys (nothing to guess), 17 for passwords a person chose (OWASP's minimum with r=8, p=1).
 */
export async function hashSecret(secret: string, log2N: number): Promise<string> {
  const n = 1 << log2N;
  const salt = randomBytes(16);
  const hash = await scryptAsync(secret, salt, KEY_LENGTH, { N: n, r: R, p: P, maxmem: maxmem(n, R) });
  return `scrypt$${n}$${R}$${P}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** Checks a secret against a stored hash in constant time; the cost is read from the hash itself. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(secret, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: maxmem(Number(n), Number(r)),
  });
  return timingSafeEqual(actual, expected);
}
