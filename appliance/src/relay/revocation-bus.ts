import type { Logger } from 'pino';
import type { Database } from '../db/database.ts';
import type { OperatorHub } from './operator-hub.ts';

const CHANNEL = 'dropops_operator_cutoff';

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
      const { operatorId, reason } = JSON.parse(payload) as { operatorId?: string; reason: string };
      this.hub.applyRevocations();
      if (operatorId) this.hub.disconnect(operatorId, reason);
    });
    this.unlisten = () => subscription.unlisten();
  }

  /** Cuts the operator off here and tells the other replicas to do the same. */
  async cutOff(operatorId: string | undefined, reason: string): Promise<void> {
    this.hub.applyRevocations();
    if (operatorId) this.hub.disconnect(operatorId, reason);
    if (this.db.kind !== 'postgresql') return;
    try {
      await this.db.sql.notify(CHANNEL, JSON.stringify({ operatorId, reason }));
    } catch (err) {
      this.log.error(
        { err, operatorId },
        'could not tell the other replicas to cut the operator off; they refuse it at its next handshake',
      );
    }
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
  }
}
