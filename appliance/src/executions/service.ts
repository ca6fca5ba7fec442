import { createHash, randomUUID } from 'node:crypto';
import {
  ExecAccepted,
  ExecutionId,
  History,
  restoreFileCommand,
  writeFileCommand,
  type ExecResult,
  type ModelOutput,
} from '@dropops/protocol';
import type { Logger } from 'pino';
import { RelayError } from '../errors.ts';
import type { SlotRow } from '../operators/slots.ts';
import type { OperatorHub, RequestBody } from '../relay/operator-hub.ts';
import type { ExecutionRow, ExecutionStore } from './store.ts';
import type { ExecutionTracker, Settled } from './tracker.ts';

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

export interface Run {
  slot: SlotRow;
  /** Who asked, from the validated session or admin credential, never from the request body. */
  requestedBy: string;
  /** The human who approved a state change; without one, only what the operator judges read-only runs. */
  approver?: string;
}

/** What a run carries: a command line, for `write_file` one file's new bytes (base64), or a ledger restore. */
export type Work =
  | { command: string; timeoutMs?: number }
  | { write: { path: string; content: string; expectedSha256?: string | null } }
  | { restore: { path: string; commit: string } };

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/**
 * The request a run sends, without its approval, and the exact command line an approval of it covers: the
 * command itself, or for a write `writeFileCommand` naming the path, the new bytes' sha256 and the
 * precondition, so the approver approves exactly those bytes there; for a restore `restoreFileCommand` naming
 * the path and the ledger version.
 */
function describe(work: Work): { kind: ExecutionRow['kind']; approved: string; body: RequestBody } {
  if ('restore' in work) {
    const { path, commit } = work.restore;
    return {
      kind: 'restore',
      approved: restoreFileCommand(path, commit),
      body: { kind: 'restore', path, commit },
    };
  }
  if ('write' in work) {
    const { path, content, expectedSha256 } = work.write;
    return {
      kind: 'write',
      approved: writeFileCommand(path, sha256(Buffer.from(content, 'base64')), expectedSha256),
      body: { kind: 'write', path, content, ...(expectedSha256 !== undefined ? { expectedSha256 } : {}) },
    };
  }
  return {
    kind: 'exec',
    approved: work.command,
    body: { kind: 'exec', command: work.command, ...(work.timeoutMs ? { timeoutMs: work.timeoutMs } : {}) },
  };
}

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

  /** `executionId` lets a caller that may cancel the run (a conversation's stop) know it before it is sent. */
  exec(run: Run & { command: string; timeoutMs?: number; executionId?: string }): Promise<ExecOutcome> {
    return this.dispatch(run);
  }

  /** `write_file`: the host writes these bytes only with an approval for exactly them (see `describe`). */
  write(run: Run & Extract<Work, { write: unknown }>): Promise<ExecOutcome> {
    return this.dispatch(run);
  }

  /** `ledger restore`: the host puts the file back to that version only with an approval for exactly it. */
  restore(run: Run & Extract<Work, { restore: unknown }>): Promise<ExecOutcome> {
    return this.dispatch(run);
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

  /**
   * Signs the approval (when there is an approver), records the run and sends it under `executionId`, which a
   * batch allocates and writes down first. Resolves with the operator's verdict and a promise of the result;
   * a refusal throws and is left to the caller to record, because only the caller knows whether the request
   * may have reached the host before (a resumed batch step) or certainly did not.
   */
  async send(
    run: Run & Work,
    executionId: string,
  ): Promise<{ accepted: ExecAccepted; settled: Promise<Settled> }> {
    const work = describe(run);
    const approval = run.approver
      ? await this.deps.signer.sign({
          operatorId: run.slot.id,
          command: work.approved,
          approver: run.approver,
          executionId,
        })
      : undefined;
    await this.deps.store.create({
      id: executionId,
      operatorId: run.slot.id,
      kind: work.kind,
      commandSha256: sha256(work.approved),
      requestedBy: run.requestedBy,
      approvedBy: run.approver ?? null,
    });
    // Bound to the connection it goes over, on this replica or another, so its closing fails the wait.
    const link = await this.deps.hub.locate(run.slot.id);
    const settled = this.deps.tracker.wait(executionId, run.slot.id, link);
    let accepted: ExecAccepted;
    try {
      accepted = await this.deps.hub.askOver(
        link,
        { ...work.body, executionId, ...(approval ? { approval } : {}) },
        ExecAccepted,
      );
    } catch (err) {
      this.deps.tracker.fail(executionId, err as Error);
      settled.catch(() => {});
      throw err;
    }
    await this.deps.store.started(executionId, accepted.mode);
    return { accepted, settled };
  }

  private async dispatch(run: Run & Work & { executionId?: string }): Promise<ExecOutcome> {
    const executionId = run.executionId ?? randomUUID();
    let sent: Awaited<ReturnType<ExecutionService['send']>>;
    try {
      sent = await this.send(run, executionId);
    } catch (err) {
      await this.deps.store.refused(executionId, err instanceof RelayError ? err.code : 'INTERNAL');
      throw err;
    }
    const { result, modelOutput } = await sent.settled;
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
    return { executionId, mode: sent.accepted.mode, reason: sent.accepted.reason, result, modelOutput };
  }
}
