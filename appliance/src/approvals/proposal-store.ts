import type { Sql } from '../db/database.ts';
import { RelayError } from '../errors.ts';

export type ProposalState = 'pending' | 'approved' | 'denied' | 'expired' | 'withdrawn';
export type Risk = 'low' | 'medium' | 'high';

export interface ProposalRow {
  id: string;
  conversation_id: string;
  org: string;
  kind: 'command' | 'write';
  command_sha256: string;
  risk: Risk;
  required_approvals: number;
  reason_required: boolean;
  state: ProposalState;
  continue_on_failure: boolean | null;
  batch_id: string | null;
  created_at: Date;
  expires_at: Date;
  decided_at: Date | null;
}

export interface ApprovalRow {
  approver_issuer: string;
  approver_id: string;
  approver_name: string;
  approved_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const proposalNotFound = (id: string) =>
  new RelayError('PROPOSAL_NOT_FOUND', `no proposal ${id} in your organisation.`);

/**
 * Proposals as the database knows them: ids, digests, states and who approved. Every transition is
 * conditional on the state it leaves, so two approvers, an expiry sweep and a stop cannot both win.
 */
export class ProposalStore {
  constructor(private readonly sql: Sql) {}

  async create(p: {
    id: string;
    conversationId: string;
    org: string;
    kind: ProposalRow['kind'];
    commandSha256: string;
    risk: Risk;
    requiredApprovals: number;
    reasonRequired: boolean;
    ttlSeconds: number;
    operatorIds: string[];
  }): Promise<ProposalRow> {
    return this.sql.begin(async (tx) => {
      const [row] = await tx<ProposalRow[]>`
        INSERT INTO proposals (id, conversation_id, org, kind, command_sha256, risk, required_approvals,
                               reason_required, state, expires_at)
        VALUES (${p.id}, ${p.conversationId}, ${p.org}, ${p.kind}, ${p.commandSha256}, ${p.risk},
                ${p.requiredApprovals}, ${p.reasonRequired}, 'pending',
                now() + ${p.ttlSeconds}::int * interval '1 second')
        RETURNING *`;
      await tx`INSERT INTO proposal_targets ${tx(
        p.operatorIds.map((operatorId, position) => ({
          proposal_id: p.id,
          position,
          operator_id: operatorId,
        })),
      )}`;
      return row!;
    });
  }

  /** The proposal if it belongs to `org`; another organisation's id reads as nonexistent. */
  async get(id: string, org: string): Promise<ProposalRow> {
    const [row] = UUID.test(id)
      ? await this.sql<ProposalRow[]>`SELECT * FROM proposals WHERE id = ${id} AND org = ${org}`
      : [];
    if (!row) throw proposalNotFound(id);
    return row;
  }

  async targets(id: string): Promise<string[]> {
    const rows = await this.sql<{ operator_id: string }[]>`
      SELECT operator_id FROM proposal_targets WHERE proposal_id = ${id} ORDER BY position`;
    return rows.map((r) => r.operator_id);
  }

  async approvals(id: string): Promise<ApprovalRow[]> {
    return this.sql<ApprovalRow[]>`
      SELECT approver_issuer, approver_id, approver_name, approved_at FROM proposal_approvals
      WHERE proposal_id = ${id} ORDER BY approved_at`;
  }

  /**
   * Records one person's approval while the proposal is pending and unexpired. Returns every approval so
   * far, or throws: the same person twice, or a proposal that was decided or ran out of time meanwhile.
   */
  async addApproval(
    id: string,
    approver: { issuer: string; userId: string; name: string },
  ): Promise<ApprovalRow[]> {
    return this.sql.begin(async (tx) => {
      // The row lock orders concurrent approvers, so the count each sees includes the others.
      const [row] = await tx<ProposalRow[]>`SELECT * FROM proposals WHERE id = ${id} FOR UPDATE`;
      if (!row) throw proposalNotFound(id);
      assertOpen(row);
      const inserted = await tx`
        INSERT INTO proposal_approvals (proposal_id, approver_issuer, approver_id, approver_name)
        VALUES (${id}, ${approver.issuer}, ${approver.userId}, ${approver.name})
        ON CONFLICT DO NOTHING RETURNING proposal_id`;
      if (inserted.length === 0)
        throw new RelayError(
          'ALREADY_APPROVED',
          'you have already approved this proposal; it needs another person to approve it too.',
        );
      return tx<ApprovalRow[]>`
        SELECT approver_issuer, approver_id, approver_name, approved_at FROM proposal_approvals
        WHERE proposal_id = ${id} ORDER BY approved_at`;
    });
  }

  /** Moves a pending proposal to its final state; false when something else decided it first. */
  async close(
    id: string,
    state: Exclude<ProposalState, 'pending'>,
    extra: { continueOnFailure?: boolean } = {},
  ): Promise<boolean> {
    // An approval must land before the deadline; a denial or a withdrawal may come at any time.
    const rows = await this.sql`
      UPDATE proposals SET state = ${state}, decided_at = now(),
        continue_on_failure = ${extra.continueOnFailure ?? null}
      WHERE id = ${id} AND state = 'pending' AND (${state} <> 'approved' OR expires_at > now()) RETURNING id`;
    return rows.length === 1;
  }

  async setBatch(id: string, batchId: string): Promise<void> {
    await this.sql`UPDATE proposals SET batch_id = ${batchId} WHERE id = ${id}`;
  }

  /** Pending proposals whose time ran out become 'expired'. */
  async expireDue(): Promise<{ id: string; org: string }[]> {
    return this.sql<{ id: string; org: string }[]>`
      UPDATE proposals SET state = 'expired', decided_at = now()
      WHERE state = 'pending' AND expires_at <= now() RETURNING id, org`;
  }

  async list(org: string, conversationId?: string): Promise<ProposalRow[]> {
    return this.sql<ProposalRow[]>`
      SELECT * FROM proposals
      WHERE org = ${org} AND (${conversationId ?? null}::uuid IS NULL OR conversation_id = ${conversationId ?? null})
      ORDER BY created_at DESC LIMIT 200`;
  }
}

/** A proposal that can still be decided; the message says why not otherwise. */
export function assertOpen(row: ProposalRow): void {
  if (row.state === 'pending' && row.expires_at.getTime() > Date.now()) return;
  const why =
    row.state === 'pending' || row.state === 'expired'
      ? 'it expired because nobody decided in time; ask the AI to propose it again'
      : row.state === 'withdrawn'
        ? 'it was withdrawn (the conversation was stopped or ended)'
        : `it was already ${row.state}`;
  throw new RelayError('PROPOSAL_CLOSED', `this proposal can no longer be decided: ${why}.`);
}
