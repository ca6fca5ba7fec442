export type PkiErrorCode =
  | 'CA_EXISTS'
  | 'CA_MISSING'
  | 'KEY_EXISTS'
  | 'BAD_CSR'
  | 'UNSUPPORTED_KEY'
  | 'BAD_CERTIFICATE'
  | 'CHAIN_INVALID'
  | 'CERT_EXPIRED'
  | 'CERT_REVOKED'
  | 'BAD_ARGUMENT';

/** One error class for the CA; the code says which failure, the message says what to do about it. */
export class PkiError extends Error {
  constructor(
    readonly code: PkiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PkiError';
  }
}
