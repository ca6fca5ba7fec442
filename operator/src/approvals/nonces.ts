/**
 * Where the operator remembers the approval nonces it has accepted. The vault backs it in production so a
 * replay is refused across restarts; `keepUntil` is when the token would be refused as expired anyway.
 */
export interface NonceStore {
  seen(nonce: string): boolean;
  remember(nonce: string, keepUntil: Date): void;
}

/** A NonceStore that lives as long as the process; it forgets nonces once their tokens have expired. */
export class MemoryNonceStore implements NonceStore {
  private readonly until = new Map<string, number>();

  constructor(private readonly clock: () => number = Date.now) {}

  seen(nonce: string): boolean {
    return this.until.has(nonce);
  }

  remember(nonce: string, keepUntil: Date): void {
    const now = this.clock();
    for (const [old, until] of this.until) if (until < now) this.until.delete(old);
    this.until.set(nonce, keepUntil.getTime());
  }
}
