import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 256 random bits as 43 base64url characters: session ids, binding secrets, CSRF tokens. */
export const randomSecret = (): string => randomBytes(32).toString('base64url');

export const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Compares two secrets in constant time (through their digests, so their lengths leak nothing either). */
export const sameSecret = (presented: string, expected: string): boolean =>
  timingSafeEqual(sha256(presented), sha256(expected));

/** A service URL as it may appear in a log line or an error message: without its password. */
export function urlWithoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
