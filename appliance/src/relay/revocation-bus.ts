import type { Logger } from 'pino';
import type { Database } from '../db/database.ts';
import type { OperatorHub } from './operator-hub.ts';

const CHANNEL = 'dropops_operator_cutoff';

/** A whole operator (its key was revoked or refreshed) and/or certificate serials. */
export interface CutOffTarget {
  operatorId?: string;
  serials: string[];
}

/**
 * Carries "cut this operator off now" to every relay replica. The database already refuses the operator's
 * next handshake; this makes the replica that holds its live connection drop it at once. PostgreSQL's
 * LISTEN/NOTIFY carries it between replicas; the embedded PGlite serves one replica, so local is enough.
 */
export class RevocationBus {
  private unlisten: (() => Promise<void>) | null = null;

  constructor(
    private readonly db: Database,
    private readonly hub: OperatorHub,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.db.kind !== 'postgresql') return;
    const subscription = await this.db.sql.listen(CHANNEL, (payload) => {
      const { target, reason } = JSON.parse(payload) as { target: CutOffTarget; reason: string };
      this.apply(target, reason);
    });
    this.unlisten = () => subscription.unlisten();
  }

  private apply(target: CutOffTarget, reason: string): void {
    this.hub.applyRevocations(target.serials);
    if (target.operatorId) this.hub.disconnect(target.operatorId, reason);
  }

  /** Cuts the operator or certificates off here and tells the other replicas to do the same. */
  async cutOff(target: CutOffTarget, reason: string): Promise<void> {
    this.apply(target, reason);
    if (this.db.kind !== 'postgresql') return;
    try {
      await this.db.sql.notify(CHANNEL, JSON.stringify({ target, reason }));
    } catch (err) {
      this.log.error(
        { err, target },
        'could not tell the other replicas to cut off; they refuse it at its next handshake',
      );
    }
  }

  async stop(): Promise<void> {
    // With the database already gone there is no subscription left to end, and shutdown must go on.
    await this.unlisten?.().catch((err: unknown) =>
      this.log.debug({ err }, 'the revocation subscription ended with its connection'),
    );
  }
}
