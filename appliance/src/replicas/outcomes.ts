import { ExecResult, ModelOutput } from '@dropops/protocol';
import type { Logger } from 'pino';
import type { Namespace } from 'socket.io';
import { z } from 'zod';
import type { ExecutionTracker } from '../executions/tracker.ts';

const SETTLED = 'replica:settled';

/** What one replica tells the others when an operator connected to it reports a run. */
const Settlement = z.object({
  /** From the reporting operator's certificate on the replica that holds its connection. */
  operatorId: z.string().uuid(),
  result: ExecResult,
  modelOutput: ModelOutput.nullable(),
});
type Settlement = z.infer<typeof Settlement>;

/**
 * Carries a run's outcome from the replica its operator reports to, to the replica whose caller waits for it.
 * The result is already in the database when this runs; the model output travels over Redis pub/sub, which
 * keeps nothing, and is held only by the waiting caller.
 */
export class OutcomeRelay {
  constructor(
    private readonly namespace: Namespace,
    private readonly tracker: ExecutionTracker,
    private readonly clustered: boolean,
    private readonly log: Logger,
  ) {
    if (!clustered) return;
    namespace.on(SETTLED, (payload: unknown, ack: unknown) => {
      const settlement = Settlement.safeParse(payload);
      const taken =
        settlement.success &&
        tracker.settle(settlement.data.operatorId, settlement.data.result, settlement.data.modelOutput);
      if (typeof ack === 'function') ack(taken);
    });
  }

  /** Settles the run here if this replica waits for it, else hands it to the replica that does. */
  async deliver(settlement: Settlement): Promise<void> {
    if (this.tracker.settle(settlement.operatorId, settlement.result, settlement.modelOutput)) return;
    if (!this.clustered) return;
    try {
      // The Redis adapter gives up on replicas that have not answered after its request timeout (5 s).
      await this.namespace.serverSideEmitWithAck(SETTLED, settlement);
    } catch (err) {
      // The result is recorded; only a caller still waiting on an unresponsive replica misses it.
      this.log.warn(
        { executionId: settlement.result.executionId, reason: (err as Error).message },
        'could not hand a result to every other replica; it is recorded in the database',
      );
    }
  }
}
