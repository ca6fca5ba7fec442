import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BatchView, ExecutionSummary, TransmissionFigures } from '@dropops/protocol';
import type { Logger } from 'pino';
import type { ApprovalService, ProposalContent, ProposalOutcome } from '../approvals/approval-service.ts';
import type { Risk } from '../approvals/proposal-store.ts';
import type { BatchService } from '../batches/service.ts';
import { RelayError } from '../errors.ts';
import type { ExecOutcome, ExecutionService } from '../executions/service.ts';
import type { ToolCall } from '../llm/tools.ts';
import type { SlotRow } from '../operators/slots.ts';
import type { OperatorHub } from '../relay/operator-hub.ts';
import { rebuildFile } from './file-rebuild.ts';
import type { ConversationStore } from './store.ts';
import type { TransmissionTally } from './transmission.ts';

/** What one tool call needs from its turn: whose conversation, how to report, and what a stop must undo. */
export interface TurnContext {
  conversationId: string;
  org: string;
  /** Who asked, for the relay's records. */
  requestedBy: string;
  signal: AbortSignal;
  tally: TransmissionTally;
  /** Runs, proposals and batches in flight, which a stop cancels, withdraws and cancels. */
  pending: { executions: Set<string>; proposals: Set<string>; batches: Set<string> };
  onExecution(summary: ExecutionSummary, figures?: TransmissionFigures): void;
  onAwaitingApproval(waiting: boolean): void;
}

export interface ToolOutcome {
  /** JSON for the model; outputs in it were redacted and cut on their host. */
  content: string;
  /** The model must not go on: a person denied (or nobody decided), and the conversation waits for them. */
  waitForUser: boolean;
}

type Attempt =
  | { slot: SlotRow; kind: 'ran'; outcome: ExecOutcome }
  | { slot: SlotRow; kind: 'needs-approval'; reason: string }
  | { slot: SlotRow; kind: 'refused'; code: string; message: string };

const FINAL = new Set(['succeeded', 'failed', 'cancelled']);
const BATCH_POLL_MS = 200;
/** The most of a host's history one call returns to the model. */
const HISTORY_EVENTS = 50;

const json = (value: unknown) => JSON.stringify(value);
const modelError = (code: string, message: string): ToolOutcome => ({
  content: json({ error: { code, message } }),
  waitForUser: false,
});
/** What the model hears when people did not approve: nothing ran, and it waits for the user. */
function notApproved(proposalId: string, decided: Exclude<ProposalOutcome, { state: 'approved' }>) {
  const report =
    decided.state === 'denied'
      ? {
          proposalId,
          status: 'denied',
          by: decided.by,
          reason: decided.reason,
          note: 'Nothing was run. Wait for the user before proposing anything else.',
        }
      : {
          proposalId,
          status: decided.state,
          note: 'Nothing was run: nobody approved it. Wait for the user.',
        };
  return { report, waitForUser: true };
}

/** `cat -- 'PATH'`, the path single-quoted for the operator's shell parser. */
const catCommand = (path: string) => `cat -- '${path.replaceAll("'", `'\\''`)}'`;

/**
 * Carries out the model's tool calls (and the commands a person types) through the relay. Each named host must
 * be bound to this conversation. A command goes to each host without approval first: what its operator judges
 * read-only runs at once and its redacted output returns; what it refuses without approval becomes one
 * proposal for all those hosts, which only people decide.
 */
export class ToolRunner {
  constructor(
    private readonly deps: {
      conversations: ConversationStore;
      executions: ExecutionService;
      hub: OperatorHub;
      approvals: ApprovalService;
      batches: BatchService;
      log: Logger;
    },
  ) {}

  async run(call: ToolCall, turn: TurnContext): Promise<ToolOutcome> {
    try {
      switch (call.name) {
        case 'run_command': {
          const slots = await this.boundByName(turn, call.arguments.operators);
          return await this.runCommand(turn, slots, call.arguments);
        }
        case 'read_file': {
          const [slot] = await this.boundByName(turn, [call.arguments.operator]);
          return await this.readFile(turn, slot!, call.arguments.path);
        }
        case 'write_file': {
          const [slot] = await this.boundByName(turn, [call.arguments.operator]);
          return await this.writeFile(turn, slot!, call.arguments.path, call.arguments.diff);
        }
        case 'fetch_session_history': {
          const [slot] = await this.boundByName(turn, [call.arguments.operator]);
          const history = await this.deps.executions.history(slot!, { limit: HISTORY_EVENTS });
          return { content: json({ operator: slot!.name, ...history }), waitForUser: false };
        }
        case 'list_operators':
          return { content: json({ operators: await this.listOperators(turn) }), waitForUser: false };
      }
    } catch (err) {
      if (err instanceof RelayError) return modelError(err.code, err.message);
      this.deps.log.error({ err, tool: call.name }, 'tool call failed');
      return modelError('INTERNAL', 'the relay failed to carry out this call; see its log.');
    }
  }

  /** A command the person typed: the same path, with no model in between. */
  async runTyped(turn: TurnContext, slots: SlotRow[], command: string): Promise<ToolOutcome> {
    return this.runCommand(turn, slots, {
      command,
      explanation: 'Typed by the user in the console.',
      risk: 'medium',
    });
  }

  private async listOperators(turn: TurnContext) {
    const bound = await this.deps.conversations.bound(turn.conversationId);
    const connected = await this.deps.hub.connectedSlots(bound.map((s) => s.id));
    return bound.map((s) => ({ name: s.name, connected: connected.has(s.id), tags: s.tags }));
  }

  /** The bound operators the model named; a name not bound here is a typed error the model can correct. */
  private async boundByName(turn: TurnContext, names: readonly string[]): Promise<SlotRow[]> {
    const bound = await this.deps.conversations.bound(turn.conversationId);
    return names.map((name) => {
      const slot = bound.find((s) => s.name === name);
      if (!slot)
        throw new RelayError(
          'OPERATOR_NOT_FOUND',
          `no operator "${name}" is bound to this conversation; the bound ones are ${bound.map((s) => s.name).join(', ') || 'none'} (list_operators).`,
        );
      return slot;
    });
  }

  private async readFile(turn: TurnContext, slot: SlotRow, path: string): Promise<ToolOutcome> {
    const attempt = await this.attempt(turn, slot, catCommand(path));
    if (attempt.kind === 'ran') return { content: json(this.ranResult(attempt)), waitForUser: false };
    return modelError(
      attempt.kind === 'needs-approval' ? 'APPROVAL_REQUIRED' : attempt.code,
      attempt.kind === 'needs-approval'
        ? `the operator will not read ${path} without approval (${attempt.reason}); propose a run_command if it is needed.`
        : attempt.message,
    );
  }

  private async runCommand(
    turn: TurnContext,
    slots: SlotRow[],
    args: { command: string; explanation: string; risk: Risk },
  ): Promise<ToolOutcome> {
    const attempts: Attempt[] = [];
    for (const slot of slots) {
      if (turn.signal.aborted) break;
      attempts.push(await this.attempt(turn, slot, args.command));
    }
    const results: unknown[] = attempts.map((a) =>
      a.kind === 'ran'
        ? this.ranResult(a)
        : a.kind === 'refused'
          ? { operator: a.slot.name, status: 'refused', code: a.code, message: a.message }
          : { operator: a.slot.name, status: 'needs-approval', reason: a.reason },
    );
    const needing = attempts.filter((a) => a.kind === 'needs-approval');
    if (needing.length === 0 || turn.signal.aborted)
      return { content: json({ results }), waitForUser: false };

    const decision = await this.propose(turn, needing, args);
    return { content: json({ results, approval: decision.report }), waitForUser: decision.waitForUser };
  }

  /** Sends the command without approval: the operator runs it if it judges it read-only, else says why not. */
  private async attempt(turn: TurnContext, slot: SlotRow, command: string): Promise<Attempt> {
    const executionId = randomUUID();
    turn.pending.executions.add(executionId);
    await this.deps.conversations.recordExecution(turn.conversationId, executionId);
    try {
      const outcome = await this.deps.executions.exec({
        slot,
        command,
        requestedBy: turn.requestedBy,
        executionId,
      });
      const sent = outcome.modelOutput ? Buffer.byteLength(outcome.modelOutput.text, 'utf8') : 0;
      const failed = outcome.result.error !== null || outcome.result.exitCode !== 0;
      turn.onExecution(
        {
          executionId,
          operatorId: slot.id,
          operator: slot.name,
          mode: outcome.mode,
          state: outcome.result.error?.code === 'CANCELLED' ? 'cancelled' : failed ? 'failed' : 'succeeded',
          exitCode: outcome.result.exitCode,
          errorCode: outcome.result.error?.code ?? null,
          errorMessage: outcome.result.error?.message ?? null,
          proposalId: null,
        },
        await turn.tally.figures({
          executionId,
          operatorId: slot.id,
          operator: slot.name,
          sentToModelBytes: sent,
        }),
      );
      return { slot, kind: 'ran', outcome };
    } catch (err) {
      if (!(err instanceof RelayError)) throw err;
      if (err.code === 'APPROVAL_REQUIRED') return { slot, kind: 'needs-approval', reason: err.message };
      turn.onExecution({
        executionId,
        operatorId: slot.id,
        operator: slot.name,
        mode: null,
        state: 'refused',
        exitCode: null,
        errorCode: err.code,
        errorMessage: err.message,
        proposalId: null,
      });
      return { slot, kind: 'refused', code: err.code, message: err.message };
    } finally {
      turn.pending.executions.delete(executionId);
    }
  }

  private ranResult(a: Extract<Attempt, { kind: 'ran' }>) {
    const { result, modelOutput } = a.outcome;
    return {
      operator: a.slot.name,
      status: 'ran',
      exitCode: result.exitCode,
      signal: result.signal,
      error: result.error,
      output: modelOutput?.text ?? '',
      truncated: modelOutput?.truncated ?? false,
    };
  }

  /** One proposal for every host that needs approval; waits for people, then for the batch they approved. */
  private async propose(
    turn: TurnContext,
    needing: Extract<Attempt, { kind: 'needs-approval' }>[],
    args: { command: string; explanation: string; risk: Risk },
  ): Promise<{ report: unknown; waitForUser: boolean }> {
    const targets = await Promise.all(needing.map(({ slot, reason }) => this.target(slot, reason)));
    const { proposalId, decided } = await this.decide(turn, { kind: 'command', ...args, targets });
    if (decided.state !== 'approved') return notApproved(proposalId, decided);
    const names = new Map(needing.map(({ slot }) => [slot.id, slot.name]));
    const batch = await this.watchBatch(turn, decided.batchId!, proposalId, names);
    return {
      report: {
        proposalId,
        status: 'approved',
        approvedBy: decided.approvers,
        batch: batch.status,
        steps: batch.steps.map((s) => ({
          operator: names.get(s.operatorId) ?? s.operator,
          state: s.state,
          exitCode: s.exitCode,
          errorCode: s.errorCode,
        })),
        note: "An approved command's output stays on its host; inspect the result with read-only commands.",
      },
      waitForUser: false,
    };
  }

  /**
   * `write_file`: reads the file through the same path as read_file, rebuilds the new one (`rebuildFile`), and
   * proposes it. People approve those exact bytes over that exact old content; the host refuses the write if
   * the file has changed since.
   */
  private async writeFile(
    turn: TurnContext,
    slot: SlotRow,
    path: string,
    diff: string,
  ): Promise<ToolOutcome> {
    const read = await this.attempt(turn, slot, catCommand(path));
    if (read.kind !== 'ran')
      return modelError(
        read.kind === 'refused' ? read.code : 'APPROVAL_REQUIRED',
        `${path} cannot be read here, so it cannot be changed with write_file; use a command.`,
      );
    const rebuilt = rebuildFile(path, diff, read.outcome);
    if (!rebuilt.ok) return modelError(rebuilt.code, rebuilt.message);
    const { proposalId, decided } = await this.decide(turn, {
      kind: 'write',
      command: rebuilt.command,
      diff,
      explanation: `Write the changed ${path} on ${slot.name}.`,
      risk: 'medium',
      targets: [await this.target(slot, 'changing a file always needs a human approval')],
    });
    if (decided.state !== 'approved')
      return { content: json({ approval: notApproved(proposalId, decided).report }), waitForUser: true };
    try {
      const outcome = await this.deps.executions.write({
        slot,
        write: rebuilt.write,
        requestedBy: turn.requestedBy,
        approver: decided.approvers.join(', '),
      });
      const failed = outcome.result.error !== null || outcome.result.exitCode !== 0;
      turn.onExecution(
        {
          executionId: outcome.executionId,
          operatorId: slot.id,
          operator: slot.name,
          mode: outcome.mode,
          state: failed ? 'failed' : 'succeeded',
          exitCode: outcome.result.exitCode,
          errorCode: outcome.result.error?.code ?? null,
          errorMessage: outcome.result.error?.message ?? null,
          proposalId,
        },
        await turn.tally.figures({
          executionId: outcome.executionId,
          operatorId: slot.id,
          operator: slot.name,
          sentToModelBytes: 0,
        }),
      );
      return {
        content: json({
          approval: { proposalId, status: 'approved', approvedBy: decided.approvers },
          write: {
            operator: slot.name,
            path,
            status: failed ? 'failed' : 'written',
            error: outcome.result.error,
          },
        }),
        waitForUser: false,
      };
    } catch (err) {
      if (!(err instanceof RelayError)) throw err;
      return modelError(err.code, err.message);
    }
  }

  private async target(slot: SlotRow, classifierReason: string): Promise<ProposalContent['targets'][number]> {
    const hostname = await this.deps.hub.facts(slot.id).then(
      (facts) => facts.hostname,
      () => null,
    );
    return { operatorId: slot.id, operator: slot.name, hostname, classifierReason };
  }

  /** Makes the proposal and waits for people (or the clock, or a stop) to decide it. */
  private async decide(
    turn: TurnContext,
    content: ProposalContent,
  ): Promise<{ proposalId: string; decided: ProposalOutcome }> {
    const { view, outcome } = await this.deps.approvals.propose({
      conversationId: turn.conversationId,
      org: turn.org,
      requestedBy: turn.requestedBy,
      content,
    });
    turn.pending.proposals.add(view.id);
    turn.onAwaitingApproval(true);
    const decided = await outcome.finally(() => {
      turn.pending.proposals.delete(view.id);
      turn.onAwaitingApproval(false);
    });
    return { proposalId: view.id, decided };
  }

  /** Follows the batch step by step until it ends, reporting each host's run as it settles. */
  private async watchBatch(
    turn: TurnContext,
    batchId: string,
    proposalId: string,
    names: Map<string, string>,
  ): Promise<BatchView> {
    turn.pending.batches.add(batchId);
    const reported = new Set<number>();
    try {
      for (;;) {
        const batch = await this.deps.batches.get(batchId);
        for (const step of batch.steps) {
          if (reported.has(step.position) || step.state === 'pending' || step.state === 'sent') continue;
          reported.add(step.position);
          const figures = step.executionId
            ? await turn.tally.figures({
                executionId: step.executionId,
                operatorId: step.operatorId,
                operator: names.get(step.operatorId) ?? step.operator,
                sentToModelBytes: 0,
              })
            : undefined;
          turn.onExecution(
            {
              executionId: step.executionId,
              operatorId: step.operatorId,
              operator: names.get(step.operatorId) ?? step.operator,
              mode: step.executionId ? 'approved' : null,
              state: step.state,
              exitCode: step.exitCode,
              errorCode: step.errorCode,
              errorMessage: step.errorMessage,
              proposalId,
            },
            figures,
          );
        }
        // After a stop the batch was asked to cancel; the turn does not wait for a host that is away.
        if (FINAL.has(batch.status) || turn.signal.aborted) return batch;
        await sleep(BATCH_POLL_MS);
      }
    } finally {
      turn.pending.batches.delete(batchId);
    }
  }
}
