import { createHash, randomUUID } from 'node:crypto';
import type { ProposalView } from '@dropops/protocol';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.ts';
import type { BatchService } from '../batches/service.ts';
import { mayApprove, type Principal } from '../console/principal.ts';
import { RelayError } from '../errors.ts';
import type { ApprovalPolicies } from './policy.ts';
import { assertOpen, type ProposalRow, type ProposalStore, type Risk } from './proposal-store.ts';

/** What people decide on. Held in this relay's memory only, never written to the database. */
export interface ProposalContent {
  kind: 'command' | 'write';
  /**
   * The exact command line every target runs once approved; for a write, `writeFileCommand(...)`, which names
   * the path and the sha256 of the new bytes and of the bytes they replace.
   */
  command: string;
  /** For a write: the change as the model gave it, for the people deciding. */
  diff?: string;
  explanation: string;
  risk: Risk;
  targets: { operatorId: string; operator: string; hostname: string | null; classifierReason: string }[];
  timeoutMs?: number;
}

export type ProposalOutcome =
  /** A command runs as a batch; a write (one host) is carried out by whoever proposed it, named approvers and all. */
  | { state: 'approved'; batchId: string | null; approvers: string[]; continueOnFailure: boolean }
  | { state: 'denied'; by: string; reason: string | null }
  | { state: 'expired' }
  | { state: 'withdrawn' };

interface Held {
  conversationId: string;
  requestedBy: string;
  content: ProposalContent;
  policyTags: string[];
  /** Null once decided; the content stays for the console until the conversation is forgotten. */
  settle: ((outcome: ProposalOutcome) => void) | null;
}

/** The approval token names each approver; cut so that three fit its `apr` claim (320 characters). */
const approverLabel = (name: string) => name.slice(0, 100);

/**
 * Proposals and the human decisions on them. The only way anything the model proposed runs is `approve`,
 * called with a person's validated session: approver or admin role, the organisation's M-of-N rule for the
 * targets' tags (distinct people, enforced by the database), a written reason where the rule asks one.
 * An approved proposal becomes one batch: the hosts run one after another, each with its own execution id
 * and its own signed token naming the approvers.
 */
export class ApprovalService {
  private readonly held = new Map<string, Held>();
  private readonly listeners = new Set<(org: string, view: ProposalView) => void>();

  constructor(
    private readonly deps: {
      proposals: ProposalStore;
      policies: ApprovalPolicies;
      audit: AuditLog;
      batches: BatchService;
      log: Logger;
      ttlSeconds: number;
    },
  ) {}

  /** Every change of a proposal (made, approved by one more person, decided), for the console. */
  onChange(listener: (org: string, view: ProposalView) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records a proposal and resolves when people (or the clock, or a stop) have decided it. */
  async propose(input: {
    conversationId: string;
    org: string;
    /** Who asked (the conversation's owner), for the batch record. */
    requestedBy: string;
    content: ProposalContent;
  }): Promise<{ view: ProposalView; outcome: Promise<ProposalOutcome> }> {
    const { content } = input;
    const operatorIds = content.targets.map((t) => t.operatorId);
    const requirement = await this.deps.policies.requirementFor(input.org, operatorIds);
    const id = randomUUID();
    let settle!: (outcome: ProposalOutcome) => void;
    const outcome = new Promise<ProposalOutcome>((resolve) => (settle = resolve));
    this.held.set(id, {
      conversationId: input.conversationId,
      requestedBy: input.requestedBy,
      content,
      policyTags: requirement.becauseOf,
      settle,
    });
    try {
      await this.deps.proposals.create({
        id,
        conversationId: input.conversationId,
        org: input.org,
        kind: content.kind,
        commandSha256: createHash('sha256').update(content.command, 'utf8').digest('hex'),
        risk: content.risk,
        requiredApprovals: requirement.requiredApprovals,
        reasonRequired: requirement.reasonRequired,
        ttlSeconds: this.deps.ttlSeconds,
        operatorIds,
      });
    } catch (err) {
      this.held.delete(id);
      throw err;
    }
    const view = await this.view(id, input.org);
    this.publish(input.org, view);
    return { view, outcome };
  }

  async view(id: string, org: string): Promise<ProposalView> {
    return this.viewOf(await this.deps.proposals.get(id, org));
  }

  async list(org: string, conversationId?: string): Promise<ProposalView[]> {
    return Promise.all((await this.deps.proposals.list(org, conversationId)).map((row) => this.viewOf(row)));
  }

  async approve(
    approver: Principal,
    proposalId: string,
    choice: { continueOnFailure: boolean; reason?: string },
  ): Promise<ProposalView> {
    const row = await this.deps.proposals.get(proposalId, approver.org);
    await this.checkDecider(approver, row, 'approve');
    if (row.reason_required && !choice.reason) {
      throw new RelayError(
        'BAD_REQUEST',
        `the policy for ${(this.held.get(row.id)?.policyTags ?? []).join(', ') || 'these hosts'} asks every approver for a written reason; add one.`,
      );
    }
    const held = this.held.get(row.id);
    if (!held?.settle)
      throw new RelayError(
        'NOT_AVAILABLE',
        'this proposal belongs to a conversation held by another relay (or one that restarted); decide it there, or ask the AI to propose it again.',
      );
    const approvals = await this.deps.proposals.addApproval(row.id, approver);
    await this.deps.audit.record(approver, 'proposal.approve', row.id, {
      conversationId: row.conversation_id,
      commandSha256: row.command_sha256,
      operatorIds: held.content.targets.map((t) => t.operatorId),
      continueOnFailure: choice.continueOnFailure,
      approval: approvals.length,
      of: row.required_approvals,
      reason: choice.reason ?? null,
    });
    if (approvals.length < row.required_approvals) {
      const view = await this.viewOf(row);
      this.publish(row.org, view);
      return view;
    }
    await this.runApproved(
      row,
      held,
      approvals.map((a) => approverLabel(a.approver_name)),
      choice.continueOnFailure,
    );
    const view = await this.view(row.id, row.org);
    this.publish(row.org, view);
    return view;
  }

  async deny(denier: Principal, proposalId: string, reason?: string): Promise<ProposalView> {
    const row = await this.deps.proposals.get(proposalId, denier.org);
    await this.checkDecider(denier, row, 'deny');
    if (!(await this.deps.proposals.close(row.id, 'denied'))) await this.closedMeanwhile(row);
    await this.deps.audit.record(denier, 'proposal.deny', row.id, {
      conversationId: row.conversation_id,
      commandSha256: row.command_sha256,
      reason: reason ?? null,
    });
    this.settle(row.id, { state: 'denied', by: denier.name, reason: reason ?? null });
    const view = await this.view(row.id, row.org);
    this.publish(row.org, view);
    return view;
  }

  /** The conversation was stopped or ended: its open proposals can no longer be approved. */
  async withdraw(proposalId: string, org: string): Promise<void> {
    if (await this.deps.proposals.close(proposalId, 'withdrawn')) {
      this.settle(proposalId, { state: 'withdrawn' });
      this.publish(org, await this.view(proposalId, org));
    }
  }

  /** The sweep: proposals nobody decided in time expire, and their conversations hear of it. */
  async expireDue(): Promise<number> {
    const expired = await this.deps.proposals.expireDue();
    for (const { id, org } of expired) {
      this.settle(id, { state: 'expired' });
      this.publish(org, await this.view(id, org));
    }
    if (expired.length)
      this.deps.log.info({ proposals: expired.map((p) => p.id) }, 'proposals expired undecided');
    return expired.length;
  }

  /** Drops what memory holds of a conversation's proposals (it ended). */
  forget(conversationId: string): void {
    for (const [id, held] of this.held)
      if (held.conversationId === conversationId && !held.settle) this.held.delete(id);
  }

  /** Another decision (or the clock) won the race: say which. */
  private async closedMeanwhile(row: ProposalRow): Promise<never> {
    assertOpen(await this.deps.proposals.get(row.id, row.org));
    throw new RelayError('PROPOSAL_CLOSED', 'this proposal was decided meanwhile.');
  }

  /** Only approvers and admins decide, and a closed (or timed-out) proposal is refused with the reason. */
  private async checkDecider(person: Principal, row: ProposalRow, what: 'approve' | 'deny'): Promise<void> {
    if (!mayApprove(person)) {
      await this.deps.audit.record(person, 'proposal.refused', row.id, { wanted: what, why: 'role' });
      throw new RelayError(
        'FORBIDDEN',
        `only an approver or an admin may ${what} a proposal; you are ${person.roles.join(', ')}. Ask one of them.`,
      );
    }
    assertOpen(row);
  }

  /**
   * Closes the proposal as approved first (so a denial or the expiry sweep cannot also win), then hands the
   * command to the batch runner.
   */
  private async runApproved(row: ProposalRow, held: Held, approvers: string[], continueOnFailure: boolean) {
    if (!(await this.deps.proposals.close(row.id, 'approved', { continueOnFailure })))
      await this.closedMeanwhile(row);
    if (held.content.kind === 'write') {
      this.deps.log.info({ proposalId: row.id, approvers }, 'write approved');
      this.settle(row.id, { state: 'approved', batchId: null, approvers, continueOnFailure });
      return;
    }
    const batch = await this.deps.batches.create(
      {
        operators: held.content.targets.map((t) => t.operatorId),
        command: held.content.command,
        continueOnFailure,
        timeoutMs: held.content.timeoutMs,
      },
      approvers.join(', '),
      held.requestedBy,
    );
    await this.deps.proposals.setBatch(row.id, batch.id);
    this.deps.log.info({ proposalId: row.id, batchId: batch.id, approvers }, 'proposal approved');
    this.settle(row.id, { state: 'approved', batchId: batch.id, approvers, continueOnFailure });
  }

  private settle(id: string, outcome: ProposalOutcome): void {
    const held = this.held.get(id);
    if (!held?.settle) return;
    const settle = held.settle;
    held.settle = null;
    settle(outcome);
  }

  private publish(org: string, view: ProposalView): void {
    for (const listener of this.listeners) listener(org, view);
  }

  private async viewOf(row: ProposalRow): Promise<ProposalView> {
    const held = this.held.get(row.id);
    const [approvals, targets] = await Promise.all([
      this.deps.proposals.approvals(row.id),
      held ? Promise.resolve(null) : this.deps.proposals.targets(row.id),
    ]);
    return {
      id: row.id,
      conversationId: row.conversation_id,
      kind: row.kind,
      command: held?.content.command ?? null,
      diff: held?.content.diff ?? null,
      commandSha256: row.command_sha256,
      explanation: held?.content.explanation ?? null,
      risk: row.risk,
      targets:
        held?.content.targets ??
        (targets ?? []).map((operatorId) => ({
          operatorId,
          operator: operatorId,
          hostname: null,
          classifierReason: '',
        })),
      state: row.state,
      requiredApprovals: row.required_approvals,
      reasonRequired: row.reason_required,
      policyTags: held?.policyTags ?? [],
      approvals: approvals.map((a) => ({ name: a.approver_name, at: a.approved_at.toISOString() })),
      batchId: row.batch_id,
      createdAt: row.created_at.toISOString(),
      expiresAt: row.expires_at.toISOString(),
      decidedAt: row.decided_at?.toISOString() ?? null,
    };
  }
}
