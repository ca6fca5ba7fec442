// The console's conversation and approval API: the `/console` Socket.IO namespace and its REST twins under
// /api/conversations and /api/proposals. Who acts, and in which organisation, always comes from the session;
// no payload names a user or an organisation.
import { z } from 'zod';
import { MAX_BATCH_OPERATORS } from './batch.ts';
import { ExecRequest } from './execution.ts';

export const CONSOLE_NAMESPACE = '/console';
/** The longest message a person may send to the model. */
export const MAX_USER_MESSAGE_CHARS = 16_000;
/** The longest reason an approver or denier may write. */
export const MAX_DECISION_REASON_CHARS = 1_000;

const id = z.string().uuid();

export const StartConversation = z.strictObject({});
export const ConversationRef = z.strictObject({ conversationId: id });
export const BindOperators = z.strictObject({
  conversationId: id,
  operatorIds: z.array(id).min(1).max(MAX_BATCH_OPERATORS),
});
export const SendMessage = z.strictObject({
  conversationId: id,
  text: z.string().trim().min(1).max(MAX_USER_MESSAGE_CHARS),
});
/** A command the person types themselves (the way to work without a model); the same approval path applies. */
export const RunCommand = z.strictObject({
  conversationId: id,
  operatorIds: z.array(id).min(1).max(MAX_BATCH_OPERATORS),
  command: ExecRequest.shape.command,
});
export const ApproveProposal = z.strictObject({
  proposalId: id,
  /** Go on to the next host after a failure instead of stopping there. */
  continueOnFailure: z.boolean().default(false),
  reason: z.string().trim().min(1).max(MAX_DECISION_REASON_CHARS).optional(),
});
export const DenyProposal = z.strictObject({
  proposalId: id,
  reason: z.string().trim().min(1).max(MAX_DECISION_REASON_CHARS).optional(),
});

/** Client → relay events, each acknowledged with `ackOf(...)`; the value is the payload schema. */
export const ConsoleClientEvents = {
  'conversation:start': StartConversation,
  /** Starts receiving a conversation's events; any member of its organisation may watch. */
  'conversation:join': ConversationRef,
  'conversation:leave': ConversationRef,
  'conversation:bind': BindOperators,
  'conversation:unbind': BindOperators,
  'conversation:message': SendMessage,
  'conversation:run': RunCommand,
  'conversation:stop': ConversationRef,
  'conversation:end': ConversationRef,
  'proposal:approve': ApproveProposal,
  'proposal:deny': DenyProposal,
} as const;
export type ConsoleClientEvent = keyof typeof ConsoleClientEvents;

/** Relay → client: every event of a conversation and of the organisation's proposals. */
export const CONSOLE_SERVER_EVENT = 'console:event';

export const ConversationState = z.enum(['idle', 'thinking', 'running', 'awaiting-approval', 'ended']);
export type ConversationState = z.infer<typeof ConversationState>;

export const Risk = z.enum(['low', 'medium', 'high']);

export const ProposalTargetView = z.object({
  operatorId: z.string(),
  operator: z.string(),
  /** As the host reported it when the proposal was made; null when it did not answer. */
  hostname: z.string().nullable(),
  /** Why this host's operator would not run it without approval (its classifier's reason). */
  classifierReason: z.string(),
});

export const ProposalView = z.object({
  id: z.string(),
  conversationId: z.string(),
  kind: z.enum(['command', 'write']),
  /** Held in the relay's memory only while the proposal is open; null once its conversation is gone. */
  command: z.string().nullable(),
  commandSha256: z.string(),
  /** For a write: the unified diff the model proposed (the token covers the resulting bytes exactly). */
  diff: z.string().nullable(),
  explanation: z.string().nullable(),
  risk: Risk,
  targets: z.array(ProposalTargetView),
  state: z.enum(['pending', 'approved', 'denied', 'expired', 'withdrawn']),
  requiredApprovals: z.number().int(),
  reasonRequired: z.boolean(),
  /** The tags whose policy set the requirement. */
  policyTags: z.array(z.string()),
  approvals: z.array(z.object({ name: z.string(), at: z.string() })),
  batchId: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
  decidedAt: z.string().nullable(),
});
export type ProposalView = z.infer<typeof ProposalView>;

/** What one command cost in transmission: bytes that stayed on the host, left for the model, were stored. */
export const TransmissionFigures = z.object({
  executionId: z.string(),
  operatorId: z.string(),
  operator: z.string(),
  /** stdout + stderr as the host's vault sealed them. */
  keptOnHostBytes: z.number().int().nonnegative(),
  /** The redacted, cut output the model received (UTF-8 bytes); 0 when none went to it. */
  sentToModelBytes: z.number().int().nonnegative(),
  /** The appliance's metadata row for the run. */
  storedBytes: z.number().int().nonnegative(),
  outputSha256: z.string().nullable(),
  /** Over the conversation so far: the share of output bytes that never left their host, 0 to 1. */
  cumulativeLocalShare: z.number().min(0).max(1),
});
export type TransmissionFigures = z.infer<typeof TransmissionFigures>;

export const ExecutionSummary = z.object({
  executionId: z.string().nullable(),
  operatorId: z.string(),
  operator: z.string(),
  mode: z.enum(['auto', 'approved']).nullable(),
  state: z.enum(['succeeded', 'failed', 'refused', 'unknown', 'skipped', 'cancelled']),
  exitCode: z.number().int().nullable(),
  errorCode: z.string().nullable(),
  errorMessage: z.string().nullable(),
  proposalId: z.string().nullable(),
});
export type ExecutionSummary = z.infer<typeof ExecutionSummary>;

const base = { conversationId: z.string(), seq: z.number().int().positive(), at: z.string() };

export const ConversationEvent = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('state'), state: ConversationState }),
  z.object({ ...base, type: z.literal('user-message'), text: z.string(), by: z.string() }),
  z.object({ ...base, type: z.literal('token'), text: z.string() }),
  z.object({ ...base, type: z.literal('assistant-message'), text: z.string() }),
  z.object({
    ...base,
    type: z.literal('tool-call'),
    callId: z.string(),
    name: z.string(),
    arguments: z.unknown(),
  }),
  z.object({
    ...base,
    type: z.literal('tool-result'),
    callId: z.string(),
    name: z.string(),
    /** What went back to the model: JSON, at most a few hundred KiB (outputs are cut on the host). */
    content: z.string(),
  }),
  z.object({ ...base, type: z.literal('proposal'), proposal: ProposalView }),
  z.object({ ...base, type: z.literal('execution'), execution: ExecutionSummary }),
  z.object({ ...base, type: z.literal('monitor'), figures: TransmissionFigures }),
  z.object({ ...base, type: z.literal('operators'), operatorIds: z.array(z.string()) }),
  z.object({ ...base, type: z.literal('error'), code: z.string(), message: z.string() }),
]);
export type ConversationEvent = z.infer<typeof ConversationEvent>;

export const ConversationView = z.object({
  id: z.string(),
  org: z.string(),
  owner: z.string(),
  state: ConversationState,
  operatorIds: z.array(z.string()),
  model: z.object({ provider: z.string(), model: z.string().nullable(), notice: z.string().nullable() }),
  createdAt: z.string(),
  /** The events this relay still holds in memory, oldest first (the log is bounded). */
  events: z.array(ConversationEvent),
});
export type ConversationView = z.infer<typeof ConversationView>;
