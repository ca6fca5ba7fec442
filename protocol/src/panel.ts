// The console's organisation-scoped REST API under /api/org: the operator panel, the audit view and the
// embedded provider's local users. The organisation is always the session's; no body or query names one.
import { z } from 'zod';
import { OperatorSlot, Slug } from './slots.ts';
import { DropOpsRole } from './session.ts';

/** A slot as the operator panel shows it: the admin API's fields plus certificate expiry and binding. */
export const PanelOperator = OperatorSlot.extend({
  /** The newest unrevoked certificate's expiry; null before enrollment or after a revocation. */
  certificateNotAfter: z.string().nullable(),
  /** The conversation the operator works for, if any. */
  conversationId: z.string().nullable(),
});
export type PanelOperator = z.infer<typeof PanelOperator>;

export const CreatePanelOperator = z.strictObject({ name: Slug });

/** A new key, shown once, with the command line that enrolls a host with it. */
export const IssuedKey = z.object({ operator: PanelOperator, apiKey: z.string(), enrollCommand: z.string() });
export type IssuedKey = z.infer<typeof IssuedKey>;

export const PanelHistoryQuery = z.strictObject({
  limit: z.number().int().positive().max(500).default(100),
});

/** Every kind of event in the appliance's audit trail. */
export const AUDIT_ACTIONS = [
  'proposal.approve',
  'proposal.deny',
  'proposal.refused',
  'conversation.start',
  'conversation.bind',
  'conversation.unbind',
  'conversation.end',
  'operator.create',
  'operator.refresh-key',
  'operator.revoke-key',
  'operator.stop',
  'operator.history',
  'user.create',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

const isoTime = z.string().datetime({ offset: true });

/** Filters of the audit view; every one is optional and they combine with AND. */
export const AuditQuery = z.strictObject({
  action: z.enum(AUDIT_ACTIONS).optional(),
  /** Part of the actor's display name, case-insensitive. */
  actor: z.string().max(256).optional(),
  subject: z.string().max(256).optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
  limit: z.coerce.number().int().positive().max(10_000).default(200),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

export const AuditEventView = z.object({
  id: z.string(),
  at: z.string(),
  actor: z.string(),
  actorName: z.string(),
  ip: z.string().nullable(),
  action: z.string(),
  subject: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});
export type AuditEventView = z.infer<typeof AuditEventView>;

export const CreateLocalUser = z.strictObject({
  username: Slug,
  roles: z.array(DropOpsRole).min(1).max(3),
});

export const CreatedLocalUser = z.object({
  user: z.object({ id: z.string(), username: z.string(), roles: z.array(DropOpsRole) }),
  /** Shown once; the person chooses their own password at the first sign-in. */
  oneTimePassword: z.string(),
});
export type CreatedLocalUser = z.infer<typeof CreatedLocalUser>;
