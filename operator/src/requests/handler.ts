import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import {
  restoreFileCommand,
  writeFileCommand,
  type ErrorCode,
  type ExecAccepted,
  type ExecRequest,
  type ExecResult,
  type History,
  type HistoryRequest,
  type ModelOutput,
  type RelayRequest,
  type RestoreRequest,
  type WireError,
  type WriteRequest,
} from '@dropops/protocol';
import type { Logger } from 'pino';
import { ApprovalError, verifyApproval, type VerifiedApproval } from '../approvals/verify.ts';
import { ExecError, execute, classifyForExecution, scrubbedEnv, type Sandbox } from '../exec/index.ts';
import { hostFacts } from '../facts.ts';
import {
  ChangeMirror,
  type ChangeMeta,
  type ChangeSet,
  type MirroredFile,
  type PendingChange,
} from '../mirror/change-mirror.ts';
import { Refusal } from '../mirror/refusal.ts';
import { planWrite, writeFile } from '../mirror/write-file.ts';
import { checkWritable, protectedTargets, writeTargets, type Policy } from '../policy/index.ts';
import type { Vault } from '../vault/index.ts';
import { redactPayload } from './redact-payload.ts';
import { RunRecord } from './run-record.ts';

export type Answer = { ok: true; result: unknown } | { ok: false; error: WireError };

export interface HandlerDeps {
  operatorId: string;
  stateDir: string;
  /** Where commands run: the directory the operator started in. */
  cwd: string;
  vault: Vault;
  sessionId: string;
  policy: Policy;
  approvalKeyPem: string;
  sandbox: Sandbox;
  log: Logger;
  /** Delivers the model channel and the metadata result to the relay (queued while the link is down). */
  deliver(output: ModelOutput, result: ExecResult): void;
}

const refuse = (code: ErrorCode, message: string): Answer => ({
  ok: false,
  error: { code, message: message.slice(0, 1000) },
});
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const metaOf = (executionId: string, grant: VerifiedApproval): ChangeMeta => ({
  executionId,
  approver: grant.approver,
});

const EXEC_CODES: Partial<Record<ExecError['code'], ErrorCode>> = {
  CANCELLED: 'CANCELLED',
  TIMED_OUT: 'TIMED_OUT',
  VAULT_WRITE_FAILED: 'VAULT_UNAVAILABLE',
  DENIED: 'COMMAND_REFUSED',
  PLAN_REFUSED: 'APPROVAL_REQUIRED',
};

/**
 * Answers the relay's requests. The relay's view of a command counts for nothing here: the operator classifies
 * every command itself and runs a state change only with an approval it verified against its pinned key.
 */
export class RequestHandler {
  private readonly running = new Map<string, AbortController>();
  /** Execution ids whose request is being checked right now (admitOnce). */
  private readonly admitting = new Set<string>();
  private readonly record: RunRecord;
  private readonly mirror: ChangeMirror;

  constructor(private readonly deps: HandlerDeps) {
    this.record = new RunRecord(deps.vault);
    this.mirror = new ChangeMirror(deps);
  }

  async handle(request: RelayRequest): Promise<Answer> {
    switch (request.kind) {
      case 'facts':
        return { ok: true, result: hostFacts() };
      case 'exec':
        return this.admitOnce(request.executionId, () => this.exec(request));
      case 'write':
        return this.admitOnce(request.executionId, () => this.write(request));
      case 'restore':
        return this.admitOnce(request.executionId, () => this.restore(request));
      case 'history':
        return { ok: true, result: this.history(request) };
      case 'cancel': {
        const run = this.running.get(request.executionId);
        if (!run) return refuse('EXECUTION_NOT_FOUND', `no run ${request.executionId} is in progress here.`);
        run.abort();
        return { ok: true, result: request.executionId };
      }
    }
  }

  /** Stops every run in progress (the operator is shutting down). */
  cancelAll(): void {
    for (const run of this.running.values()) run.abort();
  }

  /**
   * Admits one request per execution id at a time. Checking one (policy, approval, ledger) takes a while, and
   * two relays can send the same id at once (a resumed step, Redis back after an outage): the second is
   * refused until the first has started its run or been refused, so the id never runs twice.
   */
  private async admitOnce(executionId: string, admit: () => Promise<Answer>): Promise<Answer> {
    if (this.admitting.has(executionId))
      return refuse('ALREADY_EXECUTED', `execution ${executionId} is starting here; it is never run twice.`);
    this.admitting.add(executionId);
    try {
      return await admit();
    } finally {
      this.admitting.delete(executionId);
    }
  }

  private alreadyRan(executionId: string): boolean {
    return this.running.has(executionId) || this.record.ran(executionId);
  }

  private async exec(request: ExecRequest): Promise<Answer> {
    if (this.alreadyRan(request.executionId))
      return refuse(
        'ALREADY_EXECUTED',
        `execution ${request.executionId} already ran here; it is never run twice.`,
      );
    const judged = classifyForExecution(request.command, {
      cwd: this.deps.cwd,
      env: scrubbedEnv(),
      policy: this.deps.policy,
    });
    const { verdict, reason } = judged.classification;
    if (verdict === 'deny') {
      this.denial(request.executionId, request.command, `refused by policy even with approval: ${reason}`);
      return refuse(
        'COMMAND_REFUSED',
        `this host's policy refuses the command even with approval: ${reason}`,
      );
    }
    if (verdict === 'auto' && judged.plan) {
      this.start(request, 'auto', null);
      return {
        ok: true,
        result: { executionId: request.executionId, mode: 'auto', reason } satisfies ExecAccepted,
      };
    }
    let change: ChangeSet;
    try {
      change = await this.plannedChange(request.command);
    } catch (err) {
      return this.refused(err, request.executionId, request.command);
    }
    // The classifier's reason travels with the refusal, so the people deciding see why this host asks.
    const approval = await this.checkApproval(request.approval, request.command, request.executionId, reason);
    if (!approval.ok) return approval.answer;
    let pending: PendingChange;
    try {
      pending = await this.mirror.before(change, metaOf(request.executionId, approval.grant));
    } catch (err) {
      return this.refused(err, request.executionId, request.command);
    }
    this.start(request, 'approved', approval.grant, pending);
    return {
      ok: true,
      result: { executionId: request.executionId, mode: 'approved', reason } satisfies ExecAccepted,
    };
  }

  /**
   * The files an approved command is known to write, as the ledger will record them. A protected one is
   * refused here even with approval, with this host's own directories (the classifier's verdict did not
   * know them); so is one the ledger cannot hold. Targets that cannot be known are left to the approver.
   */
  private async plannedChange(command: string): Promise<ChangeSet> {
    const targets = writeTargets(command, { cwd: this.deps.cwd, home: homedir() });
    const [first] = protectedTargets(targets, this.deps.policy, { stateDir: this.deps.stateDir });
    if (first) throw new Refusal('PATH_REFUSED', `refused even with approval: ${first.reason}.`);
    return this.mirror.plan(targets.paths, targets.trees);
  }

  /** `write_file`: exactly the approved bytes at the approved path, never a protected one. */
  private async write(request: WriteRequest): Promise<Answer> {
    const { executionId, path, expectedSha256 } = request;
    if (this.alreadyRan(executionId))
      return refuse('ALREADY_EXECUTED', `execution ${executionId} already ran here; it is never run twice.`);
    const content = Buffer.from(request.content, 'base64');
    const command = writeFileCommand(path, sha256(content), expectedSha256);
    const started = performance.now();
    try {
      // As requested and where it really lands (through symlinks): neither may be protected.
      this.refuseProtected(path);
      this.refuseProtected((await planWrite(this.mirror, path)).paths[0]!);
    } catch (err) {
      return this.refused(err, executionId, command);
    }
    const approval = await this.checkApproval(request.approval, command, executionId);
    if (!approval.ok) return approval.answer;
    this.record.started(executionId);
    let done: Awaited<ReturnType<typeof writeFile>>;
    try {
      done = await writeFile(
        this.mirror,
        { path, content, expectedSha256 },
        metaOf(executionId, approval.grant),
      );
    } catch (err) {
      return this.refused(err, executionId, command);
    }
    return this.fileChanged(executionId, started, `write_file approved by ${approval.grant.approver}`, done, {
      written: done.written,
    });
  }

  /**
   * `ledger restore` through the appliance: the file back to an approved ledger version, never at a protected
   * path. Path, protection and commit are checked before the token, so each refusal changes nothing.
   */
  private async restore(request: RestoreRequest): Promise<Answer> {
    const { executionId, path, commit } = request;
    if (this.alreadyRan(executionId))
      return refuse('ALREADY_EXECUTED', `execution ${executionId} already ran here; it is never run twice.`);
    const command = restoreFileCommand(path, commit);
    const started = performance.now();
    try {
      this.refuseProtected(path);
      this.refuseProtected((await this.mirror.plan([path])).paths[0]!);
      await this.mirror.resolve(commit);
    } catch (err) {
      return this.refused(err, executionId, command);
    }
    const approval = await this.checkApproval(request.approval, command, executionId);
    if (!approval.ok) return approval.answer;
    this.record.started(executionId);
    let done: Awaited<ReturnType<ChangeMirror['restore']>>;
    try {
      done = await this.mirror.restore(path, commit, metaOf(executionId, approval.grant));
    } catch (err) {
      return this.refused(err, executionId, command);
    }
    const { from, outcome, snapshot } = done.restored;
    return this.fileChanged(
      executionId,
      started,
      `ledger restore approved by ${approval.grant.approver}`,
      done,
      {
        restored: { from, outcome, snapshot },
      },
    );
  }

  /** A write or restore is done before the ack: the verdict now, its metadata-only result right after. */
  private fileChanged(
    executionId: string,
    started: number,
    reason: string,
    done: { mirrored: MirroredFile[]; failure: WireError | null },
    detail: Pick<ExecResult, 'written' | 'restored'>,
  ): Answer {
    const result: ExecResult = {
      executionId,
      mode: 'approved',
      exitCode: 0,
      signal: null,
      stdoutBytes: 0,
      stderrBytes: 0,
      sha256: sha256(''),
      durationMs: performance.now() - started,
      chainHead: this.deps.vault.head(),
      error: done.failure,
      ledgerCommits: done.mirrored.map((m) => m.commit),
      ...detail,
    };
    // After the acknowledgement, as for a command: the relay learns the verdict first, then the result.
    setImmediate(() => this.deps.deliver({ executionId, text: '', truncated: false, totalBytes: 0 }, result));
    return {
      ok: true,
      result: { executionId, mode: 'approved', reason } satisfies ExecAccepted,
    };
  }

  private refuseProtected(path: string): void {
    const refused = checkWritable(path, this.deps.policy, {
      stateDir: this.deps.stateDir,
      cwd: this.deps.cwd,
    });
    if (refused) throw new Refusal('PATH_REFUSED', `refused even with approval: ${refused.reason}.`);
  }

  /** A refusal made before anything changed is recorded as a DENIAL and answered with its code. */
  private refused(err: unknown, executionId: string, command: string): Answer {
    if (!(err instanceof Refusal)) throw err;
    this.denial(executionId, command, `${err.code}: ${err.message}`);
    return refuse(err.code, err.message);
  }

  private async checkApproval(
    token: string | undefined,
    command: string,
    executionId: string,
    why?: string,
  ): Promise<{ ok: true; grant: VerifiedApproval } | { ok: false; answer: Answer }> {
    if (!token)
      return {
        ok: false,
        answer: refuse(
          'APPROVAL_REQUIRED',
          `this may change state, so it needs a human approval${why ? ` (${why})` : ''}.`.slice(0, 1000),
        ),
      };
    try {
      const grant = await verifyApproval(token, {
        operatorId: this.deps.operatorId,
        command,
        publicKeyPem: this.deps.approvalKeyPem,
        nonces: this.record,
      });
      if (grant.executionId !== executionId) {
        throw new ApprovalError(
          'MALFORMED',
          'the approval was given for another execution; approve this one.',
        );
      }
      this.deps.vault.append({
        type: 'APPROVAL',
        sessionId: this.deps.sessionId,
        payload: {
          executionId,
          approver: grant.approver,
          nonce: grant.nonce,
          expiresAt: grant.expiresAt.toISOString(),
          commandSha256: sha256(command),
        },
      });
      return { ok: true, grant };
    } catch (err) {
      if (!(err instanceof ApprovalError)) throw err;
      this.denial(executionId, command, `approval rejected (${err.code}): ${err.message}`);
      return { ok: false, answer: refuse('APPROVAL_REJECTED', err.message) };
    }
  }

  private denial(executionId: string, command: string, reason: string): void {
    this.deps.vault.append({
      type: 'DENIAL',
      sessionId: this.deps.sessionId,
      payload: { executionId, commandSha256: sha256(command), reason },
    });
  }

  /** Runs in the background: the relay has its answer (the verdict) before the command starts. */
  private start(
    request: ExecRequest,
    mode: 'auto' | 'approved',
    grant: VerifiedApproval | null,
    pending: PendingChange | null = null,
  ): void {
    const controller = new AbortController();
    this.running.set(request.executionId, controller);
    this.record.started(request.executionId);
    void execute(
      {
        executionId: request.executionId,
        command: request.command,
        mode,
        cwd: this.deps.cwd,
        timeoutMs: request.timeoutMs,
        signal: controller.signal,
      },
      {
        vault: this.deps.vault,
        sessionId: this.deps.sessionId,
        sandbox: this.deps.sandbox,
        log: this.deps.log,
        policy: this.deps.policy,
      },
    )
      .then(
        (result) => ({ result, error: null }),
        (err: unknown) => {
          if (err instanceof ExecError && err.result)
            return {
              result: err.result,
              error: { code: EXEC_CODES[err.code] ?? 'EXECUTION_FAILED', message: err.message },
            };
          throw err;
        },
      )
      .then(async ({ result, error }) => {
        // Whatever the command managed to change before it ended is recorded, even when it failed.
        const ledger =
          pending && grant
            ? await this.mirror.after(pending, metaOf(request.executionId, grant))
            : { mirrored: [], failure: null };
        this.deps.log.info(
          { executionId: request.executionId, mode, exitCode: result.exitCode, approver: grant?.approver },
          'run finished',
        );
        this.deps.deliver(
          {
            executionId: result.executionId,
            text: result.modelOutput,
            truncated: result.stdoutBytes + result.stderrBytes > Buffer.byteLength(result.modelOutput),
            totalBytes: result.stdoutBytes + result.stderrBytes,
          },
          {
            executionId: result.executionId,
            mode,
            exitCode: result.exitCode,
            signal: result.signal,
            stdoutBytes: result.stdoutBytes,
            stderrBytes: result.stderrBytes,
            sha256: result.sha256,
            durationMs: result.durationMs,
            // The FILE_MUTATION events come after the seal; the witness covers them too.
            chainHead: ledger.mirrored.length ? this.deps.vault.head() : result.chainHead,
            error: error ?? ledger.failure,
            ...(pending ? { ledgerCommits: ledger.mirrored.map((m) => m.commit) } : {}),
          },
        );
      })
      .catch((err: unknown) => {
        this.deps.log.error(
          {
            executionId: request.executionId,
            code: (err as { code?: string }).code,
            reason: (err as Error).message,
          },
          'the run could not be recorded; nothing more is sent for it',
        );
      })
      .finally(() => this.running.delete(request.executionId));
  }

  /** `fetch_session_history`: answered from the vault, every payload redacted before it leaves the host. */
  private history(request: HistoryRequest): History {
    const head = this.deps.vault.head();
    const from = request.afterSeq ?? Math.max(0, head.seq - request.limit);
    const events = [];
    for (const event of this.deps.vault.events({ fromSeq: from + 1, sessionId: request.sessionId })) {
      events.push({
        seq: event.seq,
        id: event.id,
        sessionId: event.sessionId,
        type: event.type,
        at: event.at,
        payload: redactPayload(event.payload),
        hash: event.hash,
      });
      if (events.length >= request.limit) break;
    }
    return { events, chainHead: head };
  }
}
