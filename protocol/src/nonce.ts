import { randomBytes } from 'node:crypto';
import type { Freshness } from './index.ts';

/** 16 random bytes, base64url: the freshness fields a request must carry. */
export function freshNonce(now = Date.now()): Freshness {
  return { ts: now, nonce: randomBytes(16).toString('base64url') };
}
