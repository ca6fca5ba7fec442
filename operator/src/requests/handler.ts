import { createHash } from 'node:crypto';
import {
  type ErrorCode,
  type ExecAccepted,
  type ExecRequest,
  type ExecResult,
  type History,
  type HistoryRequest,
  type ModelOutput,
  type RelayRequest,
  type WireError,
} from '@dropops/protocol';
import type { Logger } from 'pino';
import { ApprovalError, verifyApproval, type VerifiedApproval } from '../approvals/verify.ts';
import { ExecError, execute, classifyForExecution, scrubbedEnv, type Sandbox } from '../exec/index.ts';
import { hostFacts } from '../facts.ts';
import type { Policy } from '../policy/index.ts';
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

const refuse = (code: ErrorCode, message: string): Answer => ({ ok: false, error: { code, message } });
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

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
  private readonly record: RunRecord;

  constructor(private readonly deps: HandlerDeps) {
    this.record = new RunRecord(deps.vault);
  }

  async handle(request: RelayRequest): Promise<Answer> {
    switch (request.kind) {
      case 'facts':
        return { ok: true, result: hostFacts() };
      case 'exec':
        return this.exec(request);
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
    const approval = await this.checkApproval(request.approval, request.command, request.executionId);
    if (!approval.ok) return approval.answer;
    this.start(request, 'approved', approval.grant);
    return {
      ok: true,
      result: { executionId: request.executionId, mode: 'approved', reason } satisfies ExecAccepted,
    };
  }

  private async checkApproval(
    token: string | undefined,
    command: string,
    executionId: string,
  ): Promise<{ ok: true; grant: VerifiedApproval } | { ok: false; answer: Answer }> {
    if (!token)
      return {
        ok: false,
        answer: refuse('APPROVAL_REQUIRED', 'this may change state, so it needs a human approval.'),
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
  private start(request: ExecRequest, mode: 'auto' | 'approved', grant: VerifiedApproval | null): void {
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
      .then(({ result, error }) => {
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
            chainHead: result.chainHead,
            error,
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
