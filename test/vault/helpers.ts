import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tempDir as sharedTempDir } from '../helpers.ts';
import { openVault, vaultPath, type Vault } from '../../operator/src/vault/index.ts';

const run = promisify(execFile);

export const tempDir = (): string => sharedTempDir('dropops-vault-').path;

/** Runs SQL through the real sqlite3 CLI, as someone tampering with the file would. */
export async function sqlite(dir: string, sql: string): Promise<string> {
  const { stdout } = await run('/usr/bin/sqlite3', [vaultPath(dir), sql]);
  return stdout.trim();
}

/** A closed vault of `n` USER_MSG events (plus the session's CONNECT at seq 1). */
export function filledVault(n: number): { dir: string; sessionId: string } {
  const dir = tempDir();
  const vault: Vault = openVault(dir);
  const { id } = vault.startSession({ operatorId: 'op-1', relay: 'https://relay.test' });
  vault.appendBatch(
    Array.from({ length: n }, (_, i) => ({
      type: 'USER_MSG' as const,
      sessionId: id,
      payload: { i, text: `m${i}` },
    })),
  );
  vault.close();
  return { dir, sessionId: id };
}
