import type { NonceStore } from '../approvals/nonces.ts';
import type { Vault } from '../vault/index.ts';

/**
 * What this host has already run and which approvals it has already used, rebuilt from the vault at start-up
 * so that neither an execution id nor an approval nonce is accepted twice, even across restarts.
 */
export class RunRecord implements NonceStore {
  private readonly executions = new Set<string>();
  private readonly nonces = new Set<string>();

  constructor(vault: Vault) {
    for (const event of vault.events()) {
      const payload = event.payload as { executionId?: unknown; nonce?: unknown; sealOf?: unknown };
      // A command opens with a CMD_EXEC event; a write_file that changed its file leaves a FILE_MUTATION.
      if (
        (event.type === 'CMD_EXEC' || event.type === 'FILE_MUTATION') &&
        typeof payload.executionId === 'string' &&
        payload.sealOf === undefined
      )
        this.executions.add(payload.executionId);
      if (event.type === 'APPROVAL' && typeof payload.nonce === 'string') this.nonces.add(payload.nonce);
    }
  }

  ran(executionId: string): boolean {
    return this.executions.has(executionId);
  }

  started(executionId: string): void {
    this.executions.add(executionId);
  }

  seen(nonce: string): boolean {
    return this.nonces.has(nonce);
  }

  /** The vault's APPROVAL event holds the nonce for good; expiry needs no bookkeeping here. */
  remember(nonce: string): void {
    this.nonces.add(nonce);
  }
}
