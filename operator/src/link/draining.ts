import { RelayDraining } from '@dropops/protocol';
import type { Logger } from 'pino';
import type { Socket } from 'socket.io-client';

/** Jitter on top of the relay's retry-after, as for every other redial: operators of one replica spread out. */
const JITTER = 0.5;

/**
 * Follows a relay's `relay:draining` notice. The relay is shutting down, not stopping this operator: the
 * link leaves as soon as every run it accepted over the link has reported its result, then dials again
 * after the relay's retry-after plus jitter (the next relay in its list, or the same address, where the
 * load balancer picks a replica that is still ready).
 */
export class DrainFollower {
  /** Runs accepted and not yet reported; leaving earlier would fail the caller waiting on this replica. */
  private readonly running = new Set<string>();
  private notice: { socket: Socket; retryAfterMs: number } | null = null;

  constructor(
    private readonly log: Logger,
    private readonly leave: (socket: Socket, delayMs: number) => void,
  ) {}

  /** A run was accepted; returns false when it was already being tracked (a repeated id). */
  accepted(executionId: string): boolean {
    if (this.running.has(executionId)) return false;
    this.running.add(executionId);
    return true;
  }

  /** The run was refused, or its result is in the outbox. */
  ended(executionId: string): void {
    this.running.delete(executionId);
  }

  noticed(socket: Socket, payload: unknown): void {
    const notice = RelayDraining.safeParse(payload);
    // A notice this version cannot read still means the relay is going away; one second is the usual wait.
    const retryAfterMs = notice.success ? notice.data.retryAfterMs : 1_000;
    this.notice = { socket, retryAfterMs };
    this.log.info(
      { retryAfterMs, running: this.running.size },
      'the relay is draining; reconnecting elsewhere once the runs in progress have reported',
    );
  }

  /** A fresh connection: whatever the last relay said no longer applies. */
  connected(): void {
    this.notice = null;
  }

  /** Leaves when a notice is pending on the current connection and nothing is waiting to be reported. */
  leaveIfIdle(current: Socket | null, outboxEmpty: boolean): void {
    const notice = this.notice;
    if (!notice || notice.socket !== current || this.running.size > 0 || !outboxEmpty) return;
    this.notice = null;
    const delayMs = Math.round(notice.retryAfterMs * (1 + Math.random() * JITTER));
    this.log.info({ delayMs }, 'leaving the draining relay');
    this.leave(notice.socket, delayMs);
  }
}
