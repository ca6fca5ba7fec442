import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson, eventHash, GENESIS_HASH } from '../../operator/src/vault/canonical.ts';
import { migrate } from '../../operator/src/vault/schema.ts';
import {
  openVault,
  SCHEMA_VERSION,
  vaultPath,
  verifyVault,
  VaultError,
} from '../../operator/src/vault/index.ts';
import { sqlite, tempDir } from './helpers.ts';

const SESSION = '0192f3a4-0000-7000-8000-000000000001';
const AT = '2026-01-01T00:00:00.000Z';

/**
 * A vault as a v2 build left it (UNIQUE(id), foreign keys): the schema from the real migrations up to 2,
 * a chain hashed the way the vault hashes it, and one command with stored but unsealed output.
 */
function v2Vault(events: number): { dir: string; commandId: string } {
  const dir = tempDir();
  const path = vaultPath(dir);
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  migrate(db, 0, 2);
  db.prepare("INSERT INTO sessions (id, started_at, operator_id) VALUES (?, ?, 'op')").run(SESSION, AT);
  const insert = db.prepare('INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  let prevHash = GENESIS_HASH;
  let commandId = '';
  for (let seq = 1; seq <= events; seq++) {
    const id = `old-event-${seq}`;
    const type = seq === 3 ? 'CMD_EXEC' : 'USER_MSG';
    if (type === 'CMD_EXEC') commandId = id;
    const payload = canonicalJson({ seq, text: `old ${seq}` });
    const hash = eventHash({ seq, id, sessionId: SESSION, type, at: AT, prevHash }, payload);
    insert.run(seq, id, SESSION, type, AT, payload, prevHash, hash);
    prevHash = hash;
  }
  db.prepare("INSERT INTO outputs VALUES (?, 'stdout', 0, ?)").run(commandId, Buffer.from('old output\n'));
  db.close();
  return { dir, commandId };
}

describe('vault schema migration', () => {
  it('upgrades a v2 vault on open in place, keeping its chain, and it goes on from there', async () => {
    const { dir, commandId } = v2Vault(10);
    expect(await sqlite(dir, 'PRAGMA user_version')).toBe('2');
    expect(verifyVault(dir)).toMatchObject({ ok: true, events: 10 });

    const vault = openVault(dir);
    expect(vault.head().seq).toBe(10);
    // The unsealed output of the old command is still found by its id and sealed over its stored chunk.
    const seal = vault.sealOutput(commandId, SESSION, { exitCode: 0 });
    vault.appendBatch([{ type: 'AI_MSG', sessionId: SESSION, payload: { after: 'migration' } }]);
    vault.close();

    expect(await sqlite(dir, 'PRAGMA user_version')).toBe(String(SCHEMA_VERSION));
    expect(await sqlite(dir, "SELECT count(*) FROM pragma_index_list('events')")).toBe('0');
    expect(await sqlite(dir, "SELECT count(*) FROM pragma_foreign_key_list('outputs')")).toBe('0');
    expect(await sqlite(dir, 'SELECT id FROM events WHERE seq = 3')).toBe(commandId);
    expect(verifyVault(dir)).toMatchObject({ ok: true, events: 12 });
    expect(seal.seq).toBe(11);

    // Still tamper-evident after the rebuild: an old row edited with sqlite3 is named.
    await sqlite(dir, `UPDATE events SET payload = '{"seq":5,"text":"forged"}' WHERE seq = 5`);
    expect(verifyVault(dir)).toMatchObject({ ok: false, firstBad: { seq: 5, problem: 'edited' } });
  });

  it('checks in code what the dropped foreign keys checked, and a bad batch leaves nothing', () => {
    const { dir, commandId } = v2Vault(4);
    const vault = openVault(dir);
    expect(() =>
      vault.appendBatch([
        { type: 'USER_MSG', sessionId: SESSION, payload: {} },
        { type: 'USER_MSG', sessionId: 'no-such-session', payload: {} },
      ]),
    ).toThrow(/no-such-session, which the vault does not hold/);
    expect(() => vault.appendOutput('no-such-event', 'stdout', Buffer.from('x'))).toThrow(VaultError);
    expect(() => vault.appendOutput('old-event-1', 'stdout', Buffer.from('x'))).toThrow(/not one/);
    vault.appendOutput(commandId, 'stderr', Buffer.from('more\n'));
    expect(vault.head().seq).toBe(4);
    vault.close();
    expect(verifyVault(dir)).toMatchObject({ ok: true, events: 4 });
  });

  it('refuses a vault written by a newer schema and leaves it as it was', async () => {
    const { dir } = v2Vault(3);
    await sqlite(dir, `PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    expect(() => openVault(dir)).toThrow(/schema version \d+, which this build does not know/);
    expect(await sqlite(dir, 'SELECT count(*) FROM events')).toBe('3');
  });
});
