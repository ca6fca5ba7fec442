import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConversationEvent, ConversationState, ConversationView } from '@dropops/protocol';
import type { Logger } from 'pino';
import type { ApprovalService } from '../approvals/approval-service.ts';
import type { AuditLog } from '../audit/log.ts';
import type { BatchService } from '../batches/service.ts';
import { personKey, type Principal } from '../console/principal.ts';
import type { Sql } from '../db/database.ts';
import { RelayError } from '../errors.ts';
import type { ExecutionService } from '../executions/service.ts';
import type { ChatMessage, ChatModel } from '../llm/model.ts';
import { runAgentTurn, SYSTEM_PROMPT, type TurnSink } from './agent-turn.ts';
import type { ConversationRow, ConversationStore } from './store.ts';
import type { ToolOutcome, ToolRunner, TurnContext } from './tool-runner.ts';
import { TransmissionTally } from './transmission.ts';

/** How many events a conversation keeps in memory for a console that joins late. */
const EVENT_LOG_LIMIT = 2_000;
/** While a stop waits for its turn to end, runs that were being sent are cancelled again this often. */
const STOP_RETRY_MS = 500;

type EventBody = ConversationEvent extends infer E
  ? E extends ConversationEvent
    ? Omit<E, 'conversationId' | 'seq' | 'at'>
    : never
  : never;

interface Turn {
  controller: AbortController;
  done: Promise<void>;
  pending: TurnContext['pending'];
}

/** A conversation this relay holds: the transcript and the event log exist only here, in memory. */
interface Live {
  row: ConversationRow;
  ownerKey: string;
  transcript: ChatMessage[];
  events: ConversationEvent[];
  seq: number;
  state: ConversationState;
  turn: Turn | null;
  tally: TransmissionTally;
  waiters: (() => void)[];
}

/**
 * Conversations: started by a person, who binds operators of their organisation to it and talks to the model.
 * Anyone in the organisation may watch one; only its owner (or an admin, for stop) steers it. Approval is not
 * here at all: a proposal waits in the ApprovalService until a person decides it.
 */
export class ConversationService {
  private readonly live = new Map<string, Live>();
  private readonly listeners = new Set<(org: string, event: ConversationEvent) => void>();

  constructor(
    private readonly deps: {
      sql: Sql;
      store: ConversationStore;
      runner: ToolRunner;
      approvals: ApprovalService;
      batches: BatchService;
      executions: ExecutionService;
      audit: AuditLog;
      model: ChatModel;
      log: Logger;
    },
  ) {
    // A proposal's changes appear in its conversation's stream, in order with everything else.
    deps.approvals.onChange((_org, proposal) => {
      const live = this.live.get(proposal.conversationId);
      if (live) this.emit(live, { type: 'proposal', proposal });
    });
  }

  onEvent(listener: (org: string, event: ConversationEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A relay alone (no replicas) that starts holds no conversation, so every one still open in the database died
   * with the previous process: end them, which frees their operators.
   */
  async endOrphans(): Promise<number> {
    const rows = await this.deps.sql<{ id: string; org: string }[]>`
      SELECT id, org FROM conversations WHERE ended_at IS NULL`;
    for (const row of rows) await this.finish(row);
    return rows.length;
  }

  async start(owner: Principal): Promise<ConversationView> {
    const row = await this.deps.store.create(randomUUID(), owner);
    const live: Live = {
      row,
      ownerKey: personKey(owner),
      transcript: [{ role: 'system', content: SYSTEM_PROMPT }],
      events: [],
      seq: 0,
      state: 'idle',
      turn: null,
      tally: new TransmissionTally(this.deps.sql),
      waiters: [],
    };
    this.live.set(row.id, live);
    await this.deps.audit.record(owner, 'conversation.start', row.id);
    this.emit(live, { type: 'state', state: 'idle' });
    return this.viewOf(row, live);
  }

  async view(who: Principal, id: string): Promise<ConversationView> {
    const row = await this.deps.store.get(id, who.org);
    return this.viewOf(row, this.live.get(row.id));
  }

  async bind(who: Principal, id: string, operatorIds: string[]): Promise<ConversationView> {
    const live = await this.steer(who, id);
    const slots = await this.deps.store.slotsOf(who.org, operatorIds);
    await this.deps.store.bind(id, slots);
    await this.deps.audit.record(who, 'conversation.bind', id, { operatorIds });
    await this.announceOperators(live);
    return this.viewOf(live.row, live);
  }

  async unbind(who: Principal, id: string, operatorIds: string[]): Promise<ConversationView> {
    const live = await this.steer(who, id);
    await this.deps.store.slotsOf(who.org, operatorIds);
    await this.deps.store.unbind(id, operatorIds);
    await this.deps.audit.record(who, 'conversation.unbind', id, { operatorIds });
    await this.announceOperators(live);
    return this.viewOf(live.row, live);
  }

  /** Starts a turn of the model on the owner's message; its events stream to those watching. */
  async send(who: Principal, id: string, text: string): Promise<void> {
    const live = await this.steer(who, id);
    this.startTurn(live, async (turn) => {
      this.emit(live, { type: 'user-message', text, by: who.name });
      live.transcript.push({ role: 'user', content: text });
      await runAgentTurn({
        model: this.deps.model,
        transcript: live.transcript,
        turn,
        runTool: (call, context) => this.deps.runner.run(call, context),
        sink: this.sinkFor(live),
      });
    });
  }

  /** A command the owner typed for bound operators (the way to work without a model). */
  async runTyped(who: Principal, id: string, operatorIds: string[], command: string): Promise<void> {
    const live = await this.steer(who, id);
    const bound = await this.deps.store.bound(id);
    const slots = operatorIds.map(
      (opId) =>
        bound.find((s) => s.id === opId) ??
        throwError(
          new RelayError(
            'OPERATOR_NOT_FOUND',
            `operator ${opId} is not bound to this conversation; bind it first.`,
          ),
        ),
    );
    this.startTurn(live, async (turn) => {
      this.emit(live, { type: 'user-message', text: `$ ${command}`, by: who.name });
      const outcome: ToolOutcome = await this.deps.runner.runTyped(turn, slots, command);
      const names = slots.map((s) => s.name).join(', ');
      // The model, if one is connected, sees what the person ran and what came back.
      live.transcript.push({
        role: 'user',
        content: `I ran \`${command}\` on ${names}. Result: ${outcome.content}`,
      });
      this.emit(live, {
        type: 'tool-result',
        callId: 'typed',
        name: 'run_command',
        content: outcome.content,
      });
    });
  }

  /**
   * Halts the model, cancels the runs in flight, withdraws open proposals and stops approved batches
   * between hosts (the step running is cancelled on its host). Resolves when the turn has ended.
   */
  async stop(who: Principal, id: string): Promise<ConversationView> {
    const live = await this.held(who, id);
    if (live.ownerKey !== personKey(who) && !who.roles.includes('admin'))
      throw new RelayError(
        'FORBIDDEN',
        'only the person who started this conversation, or an admin, may stop it.',
      );
    await this.halt(live);
    return this.viewOf(live.row, live);
  }

  /** Stops the conversation for good and frees its operators. */
  async end(who: Principal, id: string): Promise<ConversationView> {
    const row = await this.deps.store.get(id, who.org);
    const live = this.live.get(row.id);
    if (
      personKey({ issuer: row.owner_issuer, userId: row.owner_id }) !== personKey(who) &&
      !who.roles.includes('admin')
    )
      throw new RelayError(
        'FORBIDDEN',
        'only the person who started this conversation, or an admin, may end it.',
      );
    if (live) await this.halt(live);
    await this.finish(row);
    await this.deps.audit.record(who, 'conversation.end', row.id);
    if (live) {
      this.setState(live, 'ended');
      this.live.delete(row.id);
    }
    return this.viewOf({ ...row, ended_at: new Date() }, live);
  }

  /** Resolves when the conversation has nothing running: idle, waiting for an approval, or ended. */
  async settled(who: Principal, id: string): Promise<ConversationView> {
    const live = await this.held(who, id);
    if (live.state !== 'idle' && live.state !== 'awaiting-approval' && live.state !== 'ended')
      await new Promise<void>((resolve) => live.waiters.push(resolve));
    return this.viewOf(live.row, live);
  }

  /**
   * The relay shuts down: every turn's model stream is aborted and the proposals its turns wait on are
   * withdrawn, since a conversation lives only in this relay's memory and no other replica could finish it.
   * Approved batches are not cancelled: their job is handed back and resumes elsewhere.
   */
  async close(): Promise<void> {
    const turns = [...this.live.values()].flatMap((live) =>
      live.turn ? [{ turn: live.turn, org: live.row.org }] : [],
    );
    for (const { turn } of turns) turn.controller.abort();
    for (const { turn, org } of turns)
      for (const proposalId of turn.pending.proposals)
        await this.deps.approvals.withdraw(proposalId, org).catch(() => undefined);
    await Promise.all(turns.map(({ turn }) => turn.done));
  }

  /** Withdraws what is still open, frees the operators and marks the conversation ended. */
  private async finish(row: { id: string; org: string }): Promise<void> {
    for (const proposal of await this.deps.approvals.list(row.org, row.id))
      if (proposal.state === 'pending') await this.deps.approvals.withdraw(proposal.id, row.org);
    await this.deps.store.end(row.id);
    this.deps.approvals.forget(row.id);
  }

  private async halt(live: Live): Promise<void> {
    const turn = live.turn;
    if (!turn) return;
    turn.controller.abort();
    let ended = false;
    void turn.done.finally(() => (ended = true));
    while (!ended) {
      for (const executionId of turn.pending.executions)
        await this.deps.executions.cancel(executionId).catch(() => undefined);
      for (const proposalId of turn.pending.proposals)
        await this.deps.approvals.withdraw(proposalId, live.row.org);
      for (const batchId of turn.pending.batches)
        await this.deps.batches.cancel(batchId).catch(() => undefined);
      await Promise.race([turn.done, sleep(STOP_RETRY_MS)]);
    }
  }

  /** The live conversation of `who`'s organisation that this relay holds. */
  private async held(who: Principal, id: string): Promise<Live> {
    const row = await this.deps.store.get(id, who.org);
    const live = this.live.get(row.id);
    if (!live)
      throw new RelayError(
        'CONVERSATION_NOT_FOUND',
        row.ended_at
          ? `conversation ${id} has ended; start a new one.`
          : `conversation ${id} is held by another relay, or was lost when its relay restarted; start a new one.`,
      );
    return live;
  }

  /** Only the owner steers a conversation: binds, sends, runs. */
  private async steer(who: Principal, id: string): Promise<Live> {
    const live = await this.held(who, id);
    if (live.ownerKey !== personKey(who))
      throw new RelayError(
        'FORBIDDEN',
        'only the person who started this conversation can steer it; start your own.',
      );
    return live;
  }

  private startTurn(live: Live, body: (turn: TurnContext) => Promise<void>): void {
    if (live.turn)
      throw new RelayError(
        'CONVERSATION_BUSY',
        'the conversation is still working (or waiting for an approval); wait, or stop it first.',
      );
    const controller = new AbortController();
    const pending: Turn['pending'] = { executions: new Set(), proposals: new Set(), batches: new Set() };
    const context: TurnContext = {
      conversationId: live.row.id,
      org: live.row.org,
      requestedBy: `${live.row.owner_name} (conversation ${live.row.id})`,
      signal: controller.signal,
      tally: live.tally,
      pending,
      onExecution: (execution, figures) => {
        this.emit(live, { type: 'execution', execution });
        if (figures) this.emit(live, { type: 'monitor', figures });
      },
      onAwaitingApproval: (waiting) => this.setState(live, waiting ? 'awaiting-approval' : 'running'),
    };
    this.setState(live, 'thinking');
    const done = body(context)
      .catch((err: unknown) => {
        this.deps.log.error({ err, conversationId: live.row.id }, 'conversation turn failed');
        this.emit(live, {
          type: 'error',
          code: 'INTERNAL',
          message: 'the turn failed in the relay; see its log.',
        });
      })
      .finally(() => {
        live.turn = null;
        if (controller.signal.aborted)
          this.emit(live, { type: 'error', code: 'CANCELLED', message: 'stopped.' });
        this.setState(live, 'idle');
      });
    live.turn = { controller, done, pending };
  }

  private sinkFor(live: Live): TurnSink {
    return {
      token: (text) => this.emit(live, { type: 'token', text }),
      assistantMessage: (text) => this.emit(live, { type: 'assistant-message', text }),
      toolCall: (call) => {
        this.setState(live, 'running');
        this.emit(live, { type: 'tool-call', callId: call.id, name: call.name, arguments: call.arguments });
      },
      toolResult: (callId, name, content) => {
        this.emit(live, { type: 'tool-result', callId, name, content });
        this.setState(live, 'thinking');
      },
      error: (code, message) => this.emit(live, { type: 'error', code, message }),
    };
  }

  private async announceOperators(live: Live): Promise<void> {
    const bound = await this.deps.store.bound(live.row.id);
    this.emit(live, { type: 'operators', operatorIds: bound.map((s) => s.id) });
  }

  private setState(live: Live, state: ConversationState): void {
    if (live.state === state) return;
    live.state = state;
    this.emit(live, { type: 'state', state });
    if (state === 'idle' || state === 'awaiting-approval' || state === 'ended')
      for (const wake of live.waiters.splice(0)) wake();
  }

  private emit(live: Live, body: EventBody): void {
    const event = {
      ...body,
      conversationId: live.row.id,
      seq: ++live.seq,
      at: new Date().toISOString(),
    } as ConversationEvent;
    live.events.push(event);
    if (live.events.length > EVENT_LOG_LIMIT) live.events.splice(0, live.events.length - EVENT_LOG_LIMIT);
    for (const listener of this.listeners) listener(live.row.org, event);
  }

  private async viewOf(row: ConversationRow, live: Live | undefined): Promise<ConversationView> {
    const bound = row.ended_at ? [] : await this.deps.store.bound(row.id);
    const info = this.deps.model.info;
    return {
      id: row.id,
      org: row.org,
      owner: row.owner_name,
      state: live?.state ?? 'ended',
      operatorIds: bound.map((s) => s.id),
      model: { provider: info.provider, model: info.model, notice: info.notice ?? null },
      createdAt: row.created_at.toISOString(),
      events: live?.events ?? [],
    };
  }
}

function throwError(err: Error): never {
  throw err;
}
