export type OperatorErrorCode =
  | 'BAD_ARGUMENT'
  | 'NOT_ENROLLED'
  | 'ALREADY_ENROLLED'
  | 'LOCKED'
  | 'PIN_MISMATCH'
  | 'RELAY_UNREACHABLE'
  | 'RELAY_REFUSED'
  | 'CERT_EXPIRED'
  | 'HOST_CHANGED';

/** One error class for the operator; `code` names the failure, the message says what to do. */
export class OperatorError extends Error {
  constructor(
    readonly code: OperatorErrorCode | string,
    message: string,
  ) {
    super(message);
    this.name = 'OperatorError';
  }
}
