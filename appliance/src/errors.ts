import type { ErrorCode } from '@dropops/protocol';

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  INVALID_API_KEY: 401,
  API_KEY_REVOKED: 403,
  FINGERPRINT_MISMATCH: 403,
  CLIENT_CERT_REQUIRED: 401,
  CERT_REVOKED: 403,
  CERT_EXPIRED: 403,
  CERT_UNKNOWN_OPERATOR: 403,
  REPLAYED_REQUEST: 409,
  CLOCK_SKEW: 400,
  OPERATOR_NOT_FOUND: 404,
  OPERATOR_OFFLINE: 409,
  OPERATOR_TIMEOUT: 504,
  REPLICAS_UNREACHABLE: 503,
  DATABASE_UNAVAILABLE: 503,
  ALREADY_EXISTS: 409,
  RATE_LIMITED: 429,
  APPROVAL_REQUIRED: 403,
  APPROVAL_REJECTED: 403,
  COMMAND_REFUSED: 403,
  PATH_REFUSED: 403,
  FILE_CHANGED: 409,
  LEDGER_UNAVAILABLE: 503,
  UNKNOWN_COMMIT: 404,
  NOT_TRACKED: 404,
  ALREADY_EXECUTED: 409,
  EXECUTION_NOT_FOUND: 404,
  EXECUTION_FAILED: 502,
  CANCELLED: 409,
  TIMED_OUT: 504,
  VAULT_UNAVAILABLE: 503,
  BATCH_NOT_FOUND: 404,
  BATCH_FINISHED: 409,
  FORBIDDEN: 403,
  CSRF_REJECTED: 403,
  SIGN_IN_FAILED: 400,
  CONVERSATION_NOT_FOUND: 404,
  CONVERSATION_BUSY: 409,
  OPERATOR_BOUND: 409,
  PROPOSAL_NOT_FOUND: 404,
  PROPOSAL_CLOSED: 409,
  ALREADY_APPROVED: 409,
  NOT_AVAILABLE: 501,
};

/** A refusal the relay explains to its caller: the code travels on the wire, the message is for a person. */
export class RelayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RelayError';
  }

  get status(): number {
    return HTTP_STATUS[this.code] ?? 500;
  }

  toWire() {
    return { code: this.code, message: this.message };
  }
}
