import { createHash, randomUUID } from 'node:crypto';
import { ExecAccepted, ExecutionId, History, type ExecResult, type ModelOutput } from '@dropops/protocol';
import type { Logger } from 'pino';
import { RelayError } from '../errors.ts';
import type { SlotRow } from '../operators/slots.ts';
import type { OperatorHub } from '../relay/operator-hub.ts';
import type { ExecutionStore } from './store.ts';
import type { ExecutionTracker } from './tracker.ts';

/** Signs the token an operator checks before it runs a state change; the relay holds the only signing key. */
export interface ApprovalSigner {
  sign(grant: {
    operatorId: string;
    command: string;
    approver: string;
    executionId: string;
  }): Promise<string>;
}

export interface ExecOutcome {
  executionId: string;
  mode: 'auto' | 'approved';
  reason: string;
  result: ExecResult;
  /** Redacted and cut on the host; handed to the caller and then forgotten. */
  modelOutput: ModelOutput | null;
}

interface Run {
  slot: SlotRow;
  /** Who asked, from the validated session or admin credential, never from the request body. */
  requestedBy: string;
  /** The human who approved a state change; without one, only what the operator judges read-only runs. */
  approver?: string;
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/** Sends work to operators and waits for its metadata; nothing of the output is kept. */
export class ExecutionService {
  constructor(
    private readonly deps: {
      hub: OperatorHub;
      store: ExecutionStore;
      tracker: ExecutionTracker;
      signer: ApprovalSigner;
      log: Logger;
    },
  ) {}

  exec(run: Run & { command: string; timeoutMs?: number }): Promise<ExecOutcome> {
    return this.dispatch(run, 'exec', run.command, (executionId, approval) => ({
      kind: 'exec',
      executionId,
      command: run.command,
      ...(approval ? { approval } : {}),
      ...(run.timeoutMs ? { timeoutMs: run.timeoutMs } : {}),
    }));
  }

  /** A host's own history, answered from its vault and passed through: the relay stores none of it. */
  history(slot: SlotRow, query: { sessionId?: string; afterSeq?: number; limit?: number }) {
    return this.deps.hub.ask(slot.id, { kind: 'history', ...query }, History);
  }

  async cancel(executionId: string): Promise<void> {
    const row = await this.deps.store.get(executionId);
    if (!row || !['sent', 'running'].includes(row.state))
      throw new RelayError('EXECUTION_NOT_FOUND', `no run ${executionId} is in progress.`);
    await this.deps.hub.ask(row.operator_id, { kind: 'cancel', executionId }, ExecutionId);
  }

  private async dispatch(
    run: Run,
    kind: 'exec',
    command: string,
    body: (executionId: string, approval: string | undefined) => { kind: string } & Record<string, unknown>,
  ): Promise<ExecOutcome> {
    const executionId = randomUUID();
    const approval = run.approver
      ? await this.deps.signer.sign({ operatorId: run.slot.id, command, approver: run.approver, executionId })
      : undefined;
    await this.deps.store.create({
      id: executionId,
      operatorId: run.slot.id,
      kind,
      commandSha256: sha256(command),
      requestedBy: run.requestedBy,
      approvedBy: run.approver ?? null,
    });
    const settled = this.deps.tracker.wait(executionId, run.slot.id);
    let accepted: ExecAccepted;
    try {
      accepted = await this.deps.hub.ask(run.slot.id, body(executionId, approval), ExecAccepted);
    } catch (err) {
      this.deps.tracker.fail(executionId, err as Error);
      settled.catch(() => {});
      await this.deps.store.refused(executionId, err instanceof RelayError ? err.code : 'INTERNAL');
      throw err;
    }
    await this.deps.store.started(executionId, accepted.mode);
    const { result, modelOutput } = await settled;
    this.deps.log.info(
      {
        executionId,
        operatorId: run.slot.id,
        mode: result.mode,
        exitCode: result.exitCode,
        bytes: result.stdoutBytes + result.stderrBytes,
      },
      'run finished',
    );
    return { executionId, mode: accepted.mode, reason: accepted.reason, result, modelOutput };
  }
}
