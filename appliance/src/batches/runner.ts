import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExecResult } from '@dropops/protocol';
import type { Logger } from 'pino';
import { RelayError } from '../errors.ts';
import type { ExecutionService, Run } from '../executions/service.ts';
import type { ExecutionRow, ExecutionStore } from '../executions/store.ts';
import type { Settled } from '../executions/tracker.ts';
import { JobHandedBack, type JobContext } from '../jobs/queue.ts';
import type { SlotStore } from '../operators/slots.ts';
import type { BatchRow, BatchStore, StepOutcome, StepRow } from './store.ts';
import { findRunInVault } from './vault-search.ts';

export interface RunnerTiming {
  /** How often the database is read for a result (it may reach another replica) and a lost host is retried. */
  pollMs: number;
  /**
   * How long a step that may have reached its host waits for the host to come back before it is 'unknown';
   * also how long operators get to reconnect to a relay that has just started, or that took over a batch,
   * before a step not yet sent fails as OPERATOR_OFFLINE.
   */
  reconnectGraceMs: number;
}

export const DEFAULT_RUNNER_TIMING: RunnerTiming = { pollMs: 500, reconnectGraceMs: 60_000 };

/** Refusals after which the request may still have reached the host; every other refusal is definite. */
const AMBIGUOUS = new Set(['OPERATOR_TIMEOUT', 'INTERNAL']);
/**
 * The host could not be asked just now: it is not connected, or the replicas cannot reach one another (Redis
 * away, so the replica holding its connection cannot be found). Neither says whether it ran anything.
 */
const UNREACHABLE = new Set(['OPERATOR_OFFLINE', 'REPLICAS_UNREACHABLE']);
/** A host that ran the run answers ALREADY_EXECUTED; a record refused so is no outcome either. */
const NOT_AN_OUTCOME = new Set([...AMBIGUOUS, 'ALREADY_EXECUTED']);
const SEAL_ERRORS: Record<string, string> = { cancelled: 'CANCELLED', 'timed-out': 'TIMED_OUT' };

class Aborted extends Error {}

const fromResult = (result: ExecResult): StepOutcome => ({
  state: !result.error && result.exitCode === 0 ? 'succeeded' : 'failed',
  exitCode: result.exitCode,
  signal: result.signal,
  errorCode: result.error?.code ?? null,
  errorMessage: result.error?.message ?? null,
  resolvedFrom: 'live',
});

const fromRow = (row: ExecutionRow): StepOutcome => ({
  state: row.state === 'finished' && !row.error_code && row.exit_code === 0 ? 'succeeded' : 'failed',
  exitCode: row.exit_code,
  signal: row.signal,
  errorCode: row.error_code,
  errorMessage: row.state === 'refused' ? 'the operator refused the run.' : null,
  resolvedFrom: row.state === 'refused' ? null : 'live',
});

const refusedOutcome = (err: RelayError): StepOutcome => ({
  state: 'failed',
  exitCode: null,
  signal: null,
  errorCode: err.code,
  errorMessage: err.message,
  resolvedFrom: null,
});

const unknownOutcome = (message: string): StepOutcome => ({
  state: 'unknown',
  exitCode: null,
  signal: null,
  errorCode: 'EXECUTION_FAILED',
  errorMessage: message,
  resolvedFrom: null,
});

const isDone = (row: ExecutionRow | undefined): row is ExecutionRow =>
  row?.state === 'finished' ||
  row?.state === 'failed' ||
  (row?.state === 'refused' && !NOT_AN_OUTCOME.has(row.error_code ?? ''));

/**
 * Runs an approved batch one step at a time and can be stopped anywhere and resumed by any relay. A step's
 * execution id is written down (state 'sent') before its request leaves; a step found 'sent' is never sent
 * blindly again but resolved: from the relay's execution record, else by asking the host with the same id.
 * A host that ran it answers ALREADY_EXECUTED, and the outcome is then read from its vault's sealed record,
 * or the step is 'unknown' when the process that ran it is gone or the host stays away.
 */
export class BatchRunner {
  private readonly startedAt = Date.now();

  constructor(
    private readonly deps: {
      batches: BatchStore;
      slots: SlotStore;
      executions: ExecutionService;
      executionStore: ExecutionStore;
      log: Logger;
      timing?: RunnerTiming;
    },
  ) {}

  private get timing(): RunnerTiming {
    return this.deps.timing ?? DEFAULT_RUNNER_TIMING;
  }

  async run(batchId: string, context: JobContext): Promise<void> {
    const batch = await this.deps.batches.begin(batchId);
    if (!batch) return;
    try {
      // Operators are still reconnecting to a relay that just started or took over from one that died.
      const graceful = batch.resumed || Date.now() - this.startedAt < this.timing.reconnectGraceMs;
      await this.runSteps(batch, graceful, context.signal);
    } catch (err) {
      if (err instanceof Aborted || context.signal.aborted) throw new JobHandedBack(context.jobId);
      if (context.finalAttempt)
        await this.deps.batches.finish(batchId, 'failed', {
          code: 'INTERNAL',
          message: `the relay could not run the batch to its end (${(err as Error).message}); steps not sent were skipped.`,
        });
      throw err;
    }
  }

  private async runSteps(batch: BatchRow, graceful: boolean, signal: AbortSignal): Promise<void> {
    const { batches, log } = this.deps;
    const steps = await batches.steps(batch.id);
    let failed = steps.some((s) => s.state === 'failed' || s.state === 'unknown');
    for (const step of steps) {
      if (step.state !== 'pending' && step.state !== 'sent') continue;
      if (signal.aborted) throw new Aborted();
      // Stopping applies to steps not yet sent; one that may have reached its host is always resolved.
      if (step.state === 'pending') {
        if (failed && !batch.continue_on_failure) break;
        if (await batches.cancelRequested(batch.id)) break;
      }
      const outcome = await this.runStep(batch, step, graceful, signal);
      await batches.settleStep(batch.id, step.position, outcome);
      log.info(
        { batchId: batch.id, position: step.position, operatorId: step.operator_id, ...outcome },
        'batch step ended',
      );
      if (outcome.state !== 'succeeded') failed = true;
    }
    const cancelled = await batches.cancelRequested(batch.id);
    const status = cancelled ? 'cancelled' : failed ? 'failed' : 'succeeded';
    await batches.finish(batch.id, status);
    log.info({ batchId: batch.id, status }, 'batch ended');
  }

  private async runStep(
    batch: BatchRow,
    step: StepRow,
    graceful: boolean,
    signal: AbortSignal,
  ): Promise<StepOutcome> {
    const slot = await this.deps.slots.get(step.operator_id);
    if (!slot) return refusedOutcome(new RelayError('OPERATOR_NOT_FOUND', 'the operator slot was deleted.'));
    const run: Run & { command: string; timeoutMs?: number } = {
      slot,
      command: batch.command!,
      timeoutMs: batch.timeout_ms ?? undefined,
      requestedBy: batch.requested_by,
      approver: batch.approved_by,
    };
    if (step.state === 'sent') return this.resolve(run, step, signal);

    const executionId = randomUUID();
    const witness = slot.witness_seq;
    if (!(await this.deps.batches.claimStep(batch.id, step.position, executionId, witness))) {
      // Another relay claimed it first: resolve what it sent instead of sending anything.
      const claimed = (await this.deps.batches.steps(batch.id))[step.position]!;
      return claimed.state === 'sent' ? this.resolve(run, claimed, signal) : this.settled(claimed);
    }
    const sentStep = {
      ...step,
      state: 'sent' as const,
      execution_id: executionId,
      history_after_seq: witness,
    };
    const offlineUntil = graceful ? Date.now() + this.timing.reconnectGraceMs : 0;
    let replicasAwayUntil: number | undefined;
    let settled: Promise<Settled>;
    for (;;) {
      if (signal.aborted) throw new Aborted();
      try {
        ({ settled } = await this.deps.executions.send(run, executionId));
        break;
      } catch (err) {
        // ALREADY_EXECUTED: an earlier try reached the host after all (a link lost mid-request).
        if (!(err instanceof RelayError) || AMBIGUOUS.has(err.code) || err.code === 'ALREADY_EXECUTED')
          return this.resolve(run, sentStep, signal);
        // Redis away: the request never left this relay. It waits for the replicas as long as for a host to
        // reconnect, rather than failing the step over a Redis restart.
        if (err.code === 'REPLICAS_UNREACHABLE')
          replicasAwayUntil ??= Date.now() + this.timing.reconnectGraceMs;
        const waitUntil =
          err.code === 'REPLICAS_UNREACHABLE'
            ? replicasAwayUntil!
            : err.code === 'OPERATOR_OFFLINE'
              ? offlineUntil
              : 0;
        if (Date.now() > waitUntil) {
          await this.deps.executionStore.refused(executionId, err.code);
          return refusedOutcome(err);
        }
      }
      await sleep(this.timing.pollMs, undefined, { signal }).catch(() => undefined);
    }
    const outcome = await this.awaitResult(executionId, settled, signal);
    return outcome ?? this.resolve(run, sentStep, signal);
  }

  /** What an already settled step (by another relay) ended as. */
  private settled(step: StepRow): StepOutcome {
    return {
      state: step.state === 'succeeded' ? 'succeeded' : step.state === 'unknown' ? 'unknown' : 'failed',
      exitCode: step.exit_code,
      signal: step.signal,
      errorCode: step.error_code,
      errorMessage: step.error_message,
      resolvedFrom: step.resolved_from,
    };
  }

  /**
   * Waits for the result of a run the host accepted: through this relay's tracker, or in the database when
   * another replica took it. Undefined when the link dropped first (the host keeps running it).
   */
  private async awaitResult(
    executionId: string,
    settled: Promise<Settled>,
    signal: AbortSignal,
  ): Promise<StepOutcome | undefined> {
    const stop = new AbortController();
    const stopAll = AbortSignal.any([signal, stop.signal]);
    const live = settled.then(
      ({ result }) => fromResult(result),
      () => undefined,
    );
    const recorded = (async () => {
      while (!stopAll.aborted) {
        await sleep(this.timing.pollMs, undefined, { signal: stopAll }).catch(() => undefined);
        const row = await this.deps.executionStore.get(executionId);
        if (isDone(row)) return fromRow(row);
      }
      return undefined;
    })();
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(new Aborted());
      signal.addEventListener('abort', () => reject(new Aborted()), { once: true });
    });
    try {
      return await Promise.race([live, recorded, aborted]);
    } finally {
      stop.abort();
      aborted.catch(() => {});
      await recorded.catch(() => undefined);
    }
  }

  /** A step whose request may have reached its host: find out what happened without running it twice. */
  private async resolve(
    run: Run & { command: string; timeoutMs?: number },
    step: StepRow,
    signal: AbortSignal,
  ): Promise<StepOutcome> {
    const executionId = step.execution_id!;
    const afterSeq = Number(step.history_after_seq ?? 0);
    let ranThere = false;
    let awaySince: number | undefined;
    for (;;) {
      if (signal.aborted) throw new Aborted();
      const row = await this.deps.executionStore.get(executionId);
      if (isDone(row)) return fromRow(row);
      try {
        if (ranThere) {
          const found = await findRunInVault(this.deps.executions, run.slot, executionId, afterSeq);
          awaySince = undefined;
          if (found.kind === 'sealed')
            return {
              state: found.outcome === 'exited' && found.exitCode === 0 ? 'succeeded' : 'failed',
              exitCode: found.exitCode,
              signal: found.signal,
              errorCode:
                found.outcome === 'exited' ? null : (SEAL_ERRORS[found.outcome] ?? 'EXECUTION_FAILED'),
              errorMessage: null,
              resolvedFrom: 'vault',
            };
          if (found.kind === 'interrupted')
            return unknownOutcome(
              'the host started this run, but the operator process that ran it stopped before recording its end; check the host.',
            );
        } else {
          // The same id again: a host that never got it runs it now; one that did answers ALREADY_EXECUTED.
          const { settled } = await this.deps.executions.send(run, executionId);
          awaySince = undefined;
          const outcome = await this.awaitResult(executionId, settled, signal);
          if (outcome) return outcome;
        }
      } catch (err) {
        if (err instanceof Aborted) throw err;
        const code = err instanceof RelayError ? err.code : 'INTERNAL';
        if (code === 'ALREADY_EXECUTED') {
          ranThere = true;
          continue;
        }
        if (UNREACHABLE.has(code)) {
          awaySince ??= Date.now();
          if (Date.now() - awaySince > this.timing.reconnectGraceMs)
            return unknownOutcome(
              ranThere
                ? 'the host ran this step, but went offline before its outcome reached the relay; see its vault.'
                : 'the request may have reached the host, which went offline before saying whether it ran; see its vault.',
            );
        } else if (!ranThere && !AMBIGUOUS.has(code)) {
          // A definite refusal of the repeated request: the host has not run this id (it would say so first).
          await this.deps.executionStore.refused(executionId, code);
          return refusedOutcome(err as RelayError);
        }
      }
      // A run in progress is looked up in the vault less often than the relay's own record.
      await sleep(this.timing.pollMs * (ranThere ? 4 : 1), undefined, { signal }).catch(() => undefined);
    }
  }
}
