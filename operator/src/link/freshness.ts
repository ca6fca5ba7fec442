import { MAX_CLOCK_SKEW_MS, type Freshness, type WireError } from '@dropops/protocol';

/** The operator's own replay check on what the relay sends: one process per host, so memory suffices. */
export class SeenNonces {
  private readonly seen = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Returns the refusal, or null when the request is fresh (and remembers its nonce). */
  check(request: Freshness): WireError | null {
    const now = this.now();
    if (Math.abs(request.ts - now) > MAX_CLOCK_SKEW_MS) {
      return {
        code: 'CLOCK_SKEW',
        message: 'the request timestamp is outside ±5 min of this host; check NTP on both sides.',
      };
    }
    for (const [nonce, at] of this.seen) {
      if (now - at > 2 * MAX_CLOCK_SKEW_MS) this.seen.delete(nonce);
      else break;
    }
    if (this.seen.has(request.nonce))
      return { code: 'REPLAYED_REQUEST', message: 'this request was already handled; a replay is refused.' };
    this.seen.set(request.nonce, now);
    return null;
  }
}
