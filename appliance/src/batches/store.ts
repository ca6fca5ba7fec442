import type { BatchStatus, StepState } from '@dropops/protocol';
import type { Sql } from '../db/database.ts';

export interface BatchRow {
  id: string;
  /** Held only while the batch is unfinished; NULL afterwards. */
  command: string | null;
  command_sha256: string;
  timeout_ms: number | null;
  continue_on_failure: boolean;
  requested_by: string;
  approved_by: string;
  status: BatchStatus;
  cancel_requested: boolean;
  error_code: string | null;
  error_message: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface StepRow {
  batch_id: string;
  position: number;
  operator_id: string;
  /** org/name of the slot, for people. */
  operator: string;
  state: StepState;
  execution_id: string | null;
  history_after_seq: string | null;
  exit_code: number | null;
  signal: string | null;
  error_code: string | null;
  error_message: string | null;
  resolved_from: 'live' | 'vault' | null;
  sent_at: Date | null;
  finished_at: Date | null;
}

/** How a step ended, as the runner determined it. */
export interface StepOutcome {
  state: 'succeeded' | 'failed' | 'unknown';
  exitCode: number | null;
  signal: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  resolvedFrom: 'live' | 'vault' | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Batches and their steps in PostgreSQL: the single source of truth that lets any relay resume a batch.
 * Every transition is conditional on the state it leaves, so two relays that both believe they run a batch
 * (a lock that lapsed under load) cannot both send a step.
 */
export class BatchStore {
  constructor(private readonly sql: Sql) {}

  async create(batch: {
    id: string;
    command: string;
    commandSha256: string;
    timeoutMs: number | null;
    continueOnFailure: boolean;
    requestedBy: string;
    approvedBy: string;
    operatorIds: string[];
  }): Promise<void> {
    await this.sql.begin(async (tx) => {
      await tx`
        INSERT INTO batches (id, command, command_sha256, timeout_ms, continue_on_failure, requested_by,
                             approved_by, status)
        VALUES (${batch.id}, ${batch.command}, ${batch.commandSha256}, ${batch.timeoutMs},
                ${batch.continueOnFailure}, ${batch.requestedBy}, ${batch.approvedBy}, 'queued')`;
      const steps = batch.operatorIds.map((operatorId, position) => ({
        batch_id: batch.id,
        position,
        operator_id: operatorId,
        state: 'pending',
      }));
      await tx`INSERT INTO batch_steps ${tx(steps)}`;
    });
  }

  async get(id: string): Promise<BatchRow | undefined> {
    if (!UUID.test(id)) return undefined;
    return (await this.sql<BatchRow[]>`SELECT * FROM batches WHERE id = ${id}`)[0];
  }

  async steps(batchId: string): Promise<StepRow[]> {
    return this.sql<StepRow[]>`
      SELECT st.*, s.org || '/' || s.name AS operator
      FROM batch_steps st JOIN operator_slots s ON s.id = st.operator_id
      WHERE st.batch_id = ${batchId} ORDER BY st.position`;
  }

  /** Batches not ended yet, oldest first: queued (not started by any relay) and running. */
  async unfinished(statuses: BatchStatus[]): Promise<string[]> {
    const rows = await this.sql<{ id: string }[]>`
      SELECT id FROM batches WHERE status IN ${this.sql(statuses)} ORDER BY created_at`;
    return rows.map((r) => r.id);
  }

  /**
   * Marks the batch running; `resumed` when an earlier run had started it. Undefined when it has ended
   * (cancelled while queued, or finished) meanwhile.
   */
  async begin(id: string): Promise<(BatchRow & { resumed: boolean }) | undefined> {
    const [row] = await this.sql<(BatchRow & { resumed: boolean })[]>`
      UPDATE batches SET status = 'running', started_at = coalesce(started_at, now())
      WHERE id = ${id} AND status IN ('queued', 'running') RETURNING *, started_at <> now() AS resumed`;
    return row;
  }

  async cancelRequested(id: string): Promise<boolean> {
    const [row] = await this.sql<{ cancel_requested: boolean }[]>`
      SELECT cancel_requested FROM batches WHERE id = ${id}`;
    return row?.cancel_requested ?? true;
  }

  /**
   * Writes the step's execution id down before its request leaves the relay. False when another relay
   * claimed the step first; that relay (or a later resume) settles it.
   */
  async claimStep(
    batchId: string,
    position: number,
    executionId: string,
    historyAfterSeq: string | null,
  ): Promise<boolean> {
    const rows = await this.sql`
      UPDATE batch_steps SET state = 'sent', execution_id = ${executionId},
        history_after_seq = ${historyAfterSeq}, sent_at = now()
      WHERE batch_id = ${batchId} AND position = ${position} AND state = 'pending' RETURNING position`;
    return rows.length === 1;
  }

  async settleStep(batchId: string, position: number, outcome: StepOutcome): Promise<void> {
    await this.sql`
      UPDATE batch_steps SET state = ${outcome.state}, exit_code = ${outcome.exitCode},
        signal = ${outcome.signal}, error_code = ${outcome.errorCode}, error_message = ${outcome.errorMessage},
        resolved_from = ${outcome.resolvedFrom}, finished_at = now()
      WHERE batch_id = ${batchId} AND position = ${position} AND state IN ('pending', 'sent')`;
  }

  /** Ends the batch: steps not yet sent are skipped and the command text is erased. */
  async finish(
    id: string,
    status: 'succeeded' | 'failed' | 'cancelled',
    error: { code: string; message: string } | null = null,
  ): Promise<void> {
    await this.sql.begin(async (tx) => {
      await tx`UPDATE batch_steps SET state = 'skipped' WHERE batch_id = ${id} AND state = 'pending'`;
      await tx`
        UPDATE batches SET status = ${status}, command = NULL, finished_at = now(),
          error_code = ${error?.code ?? null}, error_message = ${error?.message ?? null}
        WHERE id = ${id} AND status IN ('queued', 'running')`;
    });
  }

  /**
   * Asks a batch to stop. A queued batch ends at once; a running one stops before its next step (the runner
   * also cancels the step in progress). Returns the status after the request, or undefined if unknown.
   */
  async requestCancel(id: string): Promise<BatchStatus | undefined> {
    if (!UUID.test(id)) return undefined;
    return this.sql.begin(async (tx) => {
      const [row] = await tx<{ status: BatchStatus }[]>`
        UPDATE batches SET cancel_requested = true
        WHERE id = ${id} AND status IN ('queued', 'running') RETURNING status`;
      if (row?.status === 'queued') {
        await tx`UPDATE batch_steps SET state = 'skipped' WHERE batch_id = ${id} AND state = 'pending'`;
        await tx`
          UPDATE batches SET status = 'cancelled', command = NULL, finished_at = now()
          WHERE id = ${id} AND status = 'queued'`;
        return 'cancelled';
      }
      if (row) return row.status;
      return (await tx<{ status: BatchStatus }[]>`SELECT status FROM batches WHERE id = ${id}`)[0]?.status;
    });
  }
}
