import Database from 'better-sqlite3';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { VaultError } from './errors.ts';
import { checkExisting } from './schema.ts';
import { resolveDbPath } from './vault.ts';

type Row = [number, string, string, string, string, string, string, string];

/** Writes one JSON object per line, in seq order, each with its prev_hash and hash; resolves to the count. */
export async function exportVault(dir: string, output: NodeJS.WritableStream): Promise<number> {
  const path = resolveDbPath(dir);
  if (!existsSync(path)) throw new VaultError('VAULT_CORRUPT', `No vault exists at ${path}.`);
  const db = new Database(path, { readonly: true, fileMustExist: true });
  let count = 0;
  try {
    checkExisting(db, path);
    const rows = db
      .prepare<Row>('SELECT seq, id, session_id, type, at, payload, prev_hash, hash FROM events ORDER BY seq')
      .raw()
      .iterate();
    for (const [seq, id, sessionId, type, at, payload, prevHash, hash] of rows) {
      // The stored payload is already canonical JSON, so it is spliced in rather than re-encoded.
      const line =
        `{"seq":${seq},"id":${JSON.stringify(id)},"sessionId":${JSON.stringify(sessionId)},` +
        `"type":${JSON.stringify(type)},"at":${JSON.stringify(at)},"payload":${payload},` +
        `"prevHash":${JSON.stringify(prevHash)},"hash":${JSON.stringify(hash)}}\n`;
      count++;
      if (!output.write(line)) await once(output, 'drain');
    }
  } finally {
    db.close();
  }
  return count;
}
