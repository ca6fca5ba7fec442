import { z } from 'zod';
import type { Sql } from '../db/database.ts';

/** The most distinct approvers a policy may ask for: each is named in the approval token (≤ 320 chars). */
export const MAX_REQUIRED_APPROVERS = 3;

export const OperatorTag = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'a tag is 1 to 32 lowercase letters, digits, dashes or underscores');

export const ApprovalPolicyInput = z.object({
  org: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  tag: OperatorTag,
  requiredApprovers: z.number().int().min(1).max(MAX_REQUIRED_APPROVERS),
  requireReason: z.boolean().default(false),
});
export type ApprovalPolicyInput = z.infer<typeof ApprovalPolicyInput>;

/** What a proposal needs before it runs. */
export interface ApprovalRequirement {
  requiredApprovals: number;
  reasonRequired: boolean;
  /** The tags whose policy decided it, for the people deciding. */
  becauseOf: string[];
}

/** Organisation policies keyed by operator tag: `production` may need two people and a written reason. */
export class ApprovalPolicies {
  constructor(private readonly sql: Sql) {}

  async set(policy: ApprovalPolicyInput): Promise<void> {
    await this.sql`
      INSERT INTO approval_policies (org, tag, required_approvers, require_reason)
      VALUES (${policy.org}, ${policy.tag}, ${policy.requiredApprovers}, ${policy.requireReason})
      ON CONFLICT (org, tag) DO UPDATE SET required_approvers = excluded.required_approvers,
        require_reason = excluded.require_reason, updated_at = now()`;
  }

  async remove(org: string, tag: string): Promise<boolean> {
    const rows = await this
      .sql`DELETE FROM approval_policies WHERE org = ${org} AND tag = ${tag} RETURNING tag`;
    return rows.length === 1;
  }

  async list(org?: string): Promise<ApprovalPolicyInput[]> {
    const rows = await this.sql<
      { org: string; tag: string; required_approvers: number; require_reason: boolean }[]
    >`SELECT * FROM approval_policies WHERE ${org ?? null}::text IS NULL OR org = ${org ?? null} ORDER BY org, tag`;
    return rows.map((r) => ({
      org: r.org,
      tag: r.tag,
      requiredApprovers: r.required_approvers,
      requireReason: r.require_reason,
    }));
  }

  /** The strictest rule over every tag of every target: the most approvers, and a reason if any asks one. */
  async requirementFor(org: string, operatorIds: string[]): Promise<ApprovalRequirement> {
    const rows = await this.sql<{ tag: string; required_approvers: number; require_reason: boolean }[]>`
      SELECT DISTINCT p.tag, p.required_approvers, p.require_reason
      FROM operator_slots s JOIN approval_policies p ON p.org = s.org AND p.tag = ANY (s.tags)
      WHERE s.org = ${org} AND s.id = ANY (${operatorIds}::uuid[])`;
    return {
      requiredApprovals: Math.max(1, ...rows.map((r) => r.required_approvers)),
      reasonRequired: rows.some((r) => r.require_reason),
      becauseOf: rows.map((r) => r.tag).sort(),
    };
  }
}
