export type LedgerErrorCode =
  | 'NO_LEDGER'
  | 'LEDGER_CORRUPT'
  | 'LEDGER_LOCKED'
  | 'PATH_OUTSIDE_TREE'
  | 'NOT_A_REGULAR_FILE'
  | 'FILE_UNREADABLE'
  | 'UNKNOWN_COMMIT'
  | 'NOT_TRACKED'
  | 'BAD_META'
  | 'RESTORE_FAILED'
  | 'WRITE_FAILED';

/** The Ledger Mirror's one error class; `code` names the failure, the message is a sentence for the operator. */
export class LedgerError extends Error {
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LedgerError';
  }
}
