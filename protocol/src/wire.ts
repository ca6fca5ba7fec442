// The error shape and freshness fields every message on the link carries.
import { z } from 'zod';

export const ErrorCode = z.enum([
  'BAD_REQUEST',
  'UNAUTHENTICATED',
  'INVALID_API_KEY',
  'API_KEY_REVOKED',
  'FINGERPRINT_MISMATCH',
  'CLIENT_CERT_REQUIRED',
  'CERT_REVOKED',
  'CERT_EXPIRED',
  'CERT_UNKNOWN_OPERATOR',
  'REPLAYED_REQUEST',
  'CLOCK_SKEW',
  'OPERATOR_NOT_FOUND',
  'OPERATOR_OFFLINE',
  'OPERATOR_TIMEOUT',
  'REPLICAS_UNREACHABLE',
  // The relay's PostgreSQL does not answer (stopped, restarting, unreachable); retry once it is back.
  'DATABASE_UNAVAILABLE',
  'ALREADY_EXISTS',
  'RATE_LIMITED',
  'APPROVAL_REQUIRED',
  'APPROVAL_REJECTED',
  'COMMAND_REFUSED',
  'PATH_REFUSED',
  // A write_file whose file no longer holds what the approver saw (expectedSha256); nothing was written.
  'FILE_CHANGED',
  // The operator's Ledger Mirror cannot record a change (damaged, locked, disk full); nothing was run.
  'LEDGER_UNAVAILABLE',
  // A restore naming a commit the host's Ledger Mirror does not have, or a path it never held.
  'UNKNOWN_COMMIT',
  'NOT_TRACKED',
  'ALREADY_EXECUTED',
  'EXECUTION_NOT_FOUND',
  'EXECUTION_FAILED',
  'CANCELLED',
  'TIMED_OUT',
  'VAULT_UNAVAILABLE',
  'BATCH_NOT_FOUND',
  'BATCH_FINISHED',
  'FORBIDDEN',
  'CSRF_REJECTED',
  'SIGN_IN_FAILED',
  // The language model (appliance/src/llm): unreachable, answered with an error, went silent, emitted an
  // invalid tool call (the conversation goes on), or none is connected.
  'MODEL_UNAVAILABLE',
  'MODEL_FAILED',
  'MODEL_TIMEOUT',
  'TOOL_CALL_INVALID',
  'NO_MODEL',
  // Conversations and approvals (appliance/src/conversations, appliance/src/approvals).
  'CONVERSATION_NOT_FOUND',
  'CONVERSATION_BUSY',
  'OPERATOR_BOUND',
  'PROPOSAL_NOT_FOUND',
  'PROPOSAL_CLOSED',
  'ALREADY_APPROVED',
  'NOT_AVAILABLE',
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** The only error shape that leaves a process: a code a program can branch on and a sentence a person can act on. */
export const WireError = z.object({ code: ErrorCode, message: z.string().max(1000) });
export type WireError = z.infer<typeof WireError>;

const nonce = z
  .string()
  .regex(/^[A-Za-z0-9_-]{22,64}$/, 'a nonce is 22 to 64 base64url characters (at least 128 random bits)');

/** Freshness fields carried by every request, checked against the clock and the shared nonce store. */
export const Freshness = z.object({ ts: z.number().int().positive(), nonce });
export type Freshness = z.infer<typeof Freshness>;
