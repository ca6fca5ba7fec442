import { createHash, randomUUID } from 'node:crypto';
import type { BatchView, CreateBatchRequest } from '@dropops/protocol';
import type { Logger } from 'pino';
import { RelayError } from '../errors.ts';
import type { ExecutionService } from '../executions/service.ts';
import { JobQueueError, type JobQueue } from '../jobs/queue.ts';
import type { SlotStore } from '../operators/slots.ts';
import type { BatchRow, BatchStore, StepRow } from './store.ts';

const iso = (date: Date | null) => date?.toISOString() ?? null;

function batchView(batch: BatchRow, steps: StepRow[]): BatchView {
  return {
    id: batch.id,
    status: batch.status,
    commandSha256: batch.command_sha256,
    continueOnFailure: batch.continue_on_failure,
    timeoutMs: batch.timeout_ms,
    requestedBy: batch.requested_by,
    approvedBy: batch.approved_by,
    cancelRequested: batch.cancel_requested,
    errorCode: batch.error_code,
    errorMessage: batch.error_message,
    createdAt: batch.created_at.toISOString(),
    startedAt: iso(batch.started_at),
    finishedAt: iso(batch.finished_at),
    steps: steps.map((s) => ({
      position: s.position,
      operatorId: s.operator_id,
      operator: s.operator,
      state: s.state,
      executionId: s.execution_id,
      exitCode: s.exit_code,
      signal: s.signal,
      errorCode: s.error_code,
      errorMessage: s.error_message,
      resolvedFrom: s.resolved_from,
      sentAt: iso(s.sent_at),
      finishedAt: iso(s.finished_at),
    })),
  };
}

/** Approved batches as the API sees them: created here, run by the `batch` job, read and cancelled here. */
export class BatchService {
  constructor(
    private readonly deps: {
      batches: BatchStore;
      slots: SlotStore;
      executions: ExecutionService;
      queue: JobQueue;
      log: Logger;
    },
  ) {}

  /**
   * `identity` is the approving human from the validated credential; it signs every step's approval.
   * `requestedBy` is who asked for the command when that is someone else (a conversation's owner).
   */
  async create(request: CreateBatchRequest, identity: string, requestedBy = identity): Promise<BatchView> {
    const slots = [];
    for (const ref of request.operators) slots.push(await this.deps.slots.find(ref));
    const ids = slots.map((s) => s.id);
    if (new Set(ids).size !== ids.length)
      throw new RelayError(
        'BAD_REQUEST',
        'an operator is listed twice (by two of its names); list each host once.',
      );
    const id = randomUUID();
    await this.deps.batches.create({
      id,
      command: request.command,
      commandSha256: createHash('sha256').update(request.command).digest('hex'),
      timeoutMs: request.timeoutMs ?? null,
      continueOnFailure: request.continueOnFailure,
      requestedBy,
      approvedBy: identity,
      operatorIds: ids,
    });
    try {
      await this.deps.queue.add('batch', { batchId: id }, { jobId: id });
    } catch (err) {
      // Redis away: the batch stays queued in the database, and the queue takes it when Redis is back.
      if (err instanceof JobQueueError && err.code === 'JOBS_UNAVAILABLE') {
        this.deps.log.warn(
          { batchId: id },
          'batch approved while Redis is away; it starts when Redis is back',
        );
        return this.get(id);
      }
      this.deps.log.error({ batchId: id, reason: (err as Error).message }, 'the job queue refused a batch');
      await this.deps.batches.finish(id, 'failed', {
        code: 'INTERNAL',
        message: 'the job queue could not take the batch; nothing was run.',
      });
      throw new RelayError(
        'INTERNAL',
        'the job queue could not take the batch; nothing was run. Check Redis.',
      );
    }
    this.deps.log.info({ batchId: id, operators: ids.length, approvedBy: identity }, 'batch approved');
    return this.get(id);
  }

  async get(id: string): Promise<BatchView> {
    const batch = await this.deps.batches.get(id);
    if (!batch)
      throw new RelayError('BATCH_NOT_FOUND', `no batch ${id}; use the id that \`batch run\` printed.`);
    return batchView(batch, await this.deps.batches.steps(id));
  }

  /**
   * Stops the batch before its next step and asks the host running the current step to kill it; the step
   * then ends as cancelled. A finished batch cannot be cancelled.
   */
  async cancel(id: string): Promise<BatchView> {
    const status = await this.deps.batches.requestCancel(id);
    if (!status) throw new RelayError('BATCH_NOT_FOUND', `no batch ${id}.`);
    if (status !== 'running' && status !== 'cancelled')
      throw new RelayError(
        'BATCH_FINISHED',
        `batch ${id} has already ${status}; there is nothing to cancel.`,
      );
    for (const step of await this.deps.batches.steps(id)) {
      if (step.state !== 'sent' || !step.execution_id) continue;
      await this.deps.executions
        .cancel(step.execution_id)
        .catch((err: Error) =>
          this.deps.log.info(
            { batchId: id, executionId: step.execution_id, reason: err.message },
            'the running step could not be cancelled; the batch stops after it',
          ),
        );
    }
    return this.get(id);
  }
}
