import { acquirePidLock } from '../locks/pid-lock.ts';
import { VaultError } from './errors.ts';

// SQLite lets several connections write a WAL database in turn, so a second writer would interleave its
// appends into the same chain: one writer per vault.
export function acquireLock(lockPath: string): () => void {
  return acquirePidLock(lockPath, (holder) => {
    if (holder.kind === 'this-process')
      return new VaultError('VAULT_LOCKED', `The vault is already open in this process (${lockPath}).`);
    if (holder.kind === 'process')
      return new VaultError(
        'VAULT_LOCKED',
        `The vault is in use by another process (pid ${holder.pid}); close it first.`,
      );
    return new VaultError(
      'VAULT_LOCKED',
      `Could not take the vault lock ${lockPath}; another process raced for it.`,
    );
  });
}
