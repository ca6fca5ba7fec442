import { MAX_CLOCK_SKEW_MS, type Freshness } from '@dropops/protocol';
import type { Sql } from '../db/database.ts';
import { RelayError } from '../errors.ts';

/**
 * Refuses stale and repeated requests. Nonces live in PostgreSQL, so a request replayed against another
 * replica is refused too; a nonce only needs keeping while its timestamp could still pass the clock check.
 */
export class ReplayGuard {
  private lastPurge = 0;

  constructor(
    private readonly sql: Sql,
    private readonly now: () => number = Date.now,
  ) {}

  async check(request: Freshness): Promise<void> {
    const now = this.now();
    const skew = request.ts - now;
    if (Math.abs(skew) > MAX_CLOCK_SKEW_MS) {
      throw new RelayError(
        'CLOCK_SKEW',
        `the request's clock is ${Math.round(skew / 1000)} s off the relay's (limit ±${MAX_CLOCK_SKEW_MS / 1000} s); fix the host's time (NTP) and retry.`,
      );
    }
    const inserted = await this.sql`
      INSERT INTO request_nonces (nonce) VALUES (${request.nonce}) ON CONFLICT (nonce) DO NOTHING RETURNING nonce`;
    if (inserted.length === 0) {
      throw new RelayError(
        'REPLAYED_REQUEST',
        'this request was already received once; a replay is refused. Send a fresh request.',
      );
    }
    if (now - this.lastPurge > 60_000) await this.prune();
  }

  /**
   * Forgets nonces whose timestamps the clock check refuses anyway; the periodic clean-up job calls this too,
   * so an idle relay does not keep them. Returns how many went.
   */
  async prune(): Promise<number> {
    this.lastPurge = this.now();
    const removed = await this
      .sql`DELETE FROM request_nonces WHERE seen_at < now() - ${`${(2 * MAX_CLOCK_SKEW_MS) / 1000} seconds`}::interval`;
    return removed.count;
  }
}
