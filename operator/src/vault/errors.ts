export type VaultErrorCode = 'VAULT_CORRUPT' | 'VAULT_LOCKED' | 'VAULT_CLOSED' | 'BAD_EVENT' | 'BAD_OUTPUT';

/** The vault's one error class; `code` names the failure, the message is a sentence for the operator. */
export class VaultError extends Error {
  constructor(
    readonly code: VaultErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'VaultError';
  }
}
