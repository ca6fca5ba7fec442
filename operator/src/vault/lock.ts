import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { VaultError } from './errors.ts';

// SQLite lets several connections write a WAL database in turn, so a second operator would interleave its
// appends into the same chain. A pid lock file keeps one writer; a lock left by a killed process is stale.
const heldHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireLock(lockPath: string): () => void {
  if (heldHere.has(lockPath))
    throw new VaultError('VAULT_LOCKED', `The vault is already open in this process (${lockPath}).`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      heldHere.add(lockPath);
      return () => {
        heldHere.delete(lockPath);
        try {
          unlinkSync(lockPath);
        } catch {
          // Already gone; nothing to release.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let pid = NaN;
      try {
        pid = Number(readFileSync(lockPath, 'utf8').trim());
      } catch {
        // Removed between our write and read: retry.
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
        throw new VaultError(
          'VAULT_LOCKED',
          `The vault is in use by another process (pid ${pid}); close it first.`,
        );
      try {
        unlinkSync(lockPath);
      } catch {
        // Someone else cleared it.
      }
    }
  }
  throw new VaultError(
    'VAULT_LOCKED',
    `Could not take the vault lock ${lockPath}; another process raced for it.`,
  );
}
