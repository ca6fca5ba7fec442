import type { Context, Middleware } from 'koa';
import { RelayError } from '../errors.ts';

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets idle long enough to be full again carry no information; they are swept when the map grows. */
const SWEEP_ABOVE = 10_000;

/**
 * Token buckets in this process's memory: each key may spend `perMinute` requests at once and earns them back
 * at `perMinute` per minute. Several replicas each keep their own, so a client spread over N replicas gets N
 * times the limit; a shared store (Redis) would close that gap.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(private readonly perMinute: number) {
    this.perMs = perMinute / 60_000;
  }

  /** Spends one token for `key`; returns 0 when allowed, else the seconds until one is back. */
  take(key: string, now = Date.now()): number {
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * this.perMs);
    bucket.at = now;
    if (!this.buckets.has(key)) {
      if (this.buckets.size >= SWEEP_ABOVE) this.sweep(now);
      this.buckets.set(key, bucket);
    }
    if (bucket.tokens < 1) return Math.ceil((1 - bucket.tokens) / this.perMs / 1000);
    bucket.tokens -= 1;
    return 0;
  }

  /** Gives back a token `take` spent, for attempts that only count when they fail. */
  refund(key: string): void {
    const bucket = this.buckets.get(key);
    if (bucket) bucket.tokens = Math.min(this.perMinute, bucket.tokens + 1);
  }

  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.perMs >= this.perMinute) this.buckets.delete(key);
    }
  }
}

/** Throws RATE_LIMITED (429, with Retry-After) when `key` has spent its bucket. */
export function spend(ctx: Context, buckets: TokenBuckets, key: string, who: string): void {
  const retryAfter = buckets.take(key);
  if (retryAfter === 0) return;
  ctx.set('Retry-After', String(retryAfter));
  throw new RelayError('RATE_LIMITED', `too many requests from ${who}; try again in ${retryAfter} s.`);
}

/** Limits every request per client address, except those `exempt` says are the appliance's own admin. */
export function limitPerAddress(buckets: TokenBuckets, exempt: (ctx: Context) => boolean): Middleware {
  return async (ctx, next) => {
    if (!exempt(ctx)) spend(ctx, buckets, `ip:${ctx.ip}`, 'this address');
    await next();
  };
}
