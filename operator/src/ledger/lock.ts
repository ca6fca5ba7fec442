import { setTimeout as sleep } from 'node:timers/promises';
import { acquirePidLock } from '../locks/pid-lock.ts';
import { LedgerError } from './errors.ts';

/**
 * One writer at a time across processes (the running operator and a local `ledger restore`), held only
 * for the length of one commit so that neither blocks the other for longer. Calls on one instance queue
 * in order; a lock held elsewhere is waited for up to `waitMs`.
 */
export class WriterLock {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly waitMs: number,
  ) {}

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(async () => {
      const release = await this.acquire();
      try {
        return await work();
      } finally {
        release();
      }
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async acquire(): Promise<() => void> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      try {
        return acquirePidLock(this.path, (holder) =>
          holder.kind === 'process'
            ? new LedgerError(
                'LEDGER_LOCKED',
                `The ledger is being written by another process (pid ${holder.pid}); try again when it is done.`,
              )
            : new LedgerError('LEDGER_LOCKED', `Could not take the ledger lock ${this.path}; try again.`),
        );
      } catch (err) {
        if (!(err instanceof LedgerError) || Date.now() >= deadline) throw err;
        await sleep(5);
      }
    }
  }
}
