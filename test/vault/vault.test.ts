import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  exportVault,
  openVault,
  vaultPath,
  verifyVault,
  VaultError,
} from '../../operator/src/vault/index.ts';
import { filledVault, sqlite, tempDir } from './helpers.ts';

describe('audit vault chain', () => {
  it('verifies after many single appends and batches, and reopens onto the same chain', () => {
    const dir = tempDir();
    let vault = openVault(dir);
    const { id } = vault.startSession({ operatorId: 'op', relay: 'r' });
    for (let i = 0; i < 500; i++) vault.append({ type: 'USER_MSG', sessionId: id, payload: { i } });
    for (let b = 0; b < 20; b++)
      vault.appendBatch(
        Array.from({ length: 100 }, (_, i) => ({
          type: 'AI_MSG' as const,
          sessionId: id,
          payload: { b, i },
        })),
      );
    expect(vault.head().seq).toBe(2501);
    vault.close();
    vault = openVault(dir);
    const next = vault.append({ type: 'APPROVAL', sessionId: id, payload: { ok: true } });
    expect(next.seq).toBe(2502);
    expect([...vault.events({ type: 'APPROVAL' })]).toHaveLength(1);
    const head = vault.head();
    vault.close();
    expect(verifyVault(dir)).toEqual({ ok: true, events: 2502, head });
    expect(verifyVault(vaultPath(dir), { witness: head }).ok).toBe(true);
  });

  it('rejects bad events without writing anything', () => {
    const dir = tempDir();
    const vault = openVault(dir);
    const { id } = vault.startSession({ operatorId: 'op' });
    expect(() => vault.append({ type: 'USER_MSG', sessionId: id, payload: { n: NaN } })).toThrow(VaultError);
    expect(() => vault.append({ type: 'USER_MSG', sessionId: 'nope', payload: {} })).toThrow(VaultError);
    expect(() =>
      vault.appendBatch([
        { type: 'USER_MSG', sessionId: id, payload: {} },
        { type: 'BOGUS' as 'USER_MSG', sessionId: id, payload: {} },
      ]),
    ).toThrow(VaultError);
    expect(vault.head().seq).toBe(1);
    vault.close();
    expect(verifyVault(dir).ok).toBe(true);
  });

  it('is readable by the sqlite3 CLI and exports JSON Lines', async () => {
    const { dir } = filledVault(99);
    expect(await sqlite(dir, 'SELECT count(*) FROM events')).toBe('100');
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    expect(await exportVault(dir, sink)).toBe(100);
    const last = JSON.parse(lines[99]!) as { seq: number; hash: string };
    expect(last.seq).toBe(100);
    const verified = verifyVault(dir);
    expect(verified.ok && verified.head.hash).toBe(last.hash);
  });

  it('covers command output through a seal event', async () => {
    const dir = tempDir();
    const vault = openVault(dir);
    const { id } = vault.startSession({ operatorId: 'op' });
    const cmd = vault.append({ type: 'CMD_EXEC', sessionId: id, payload: { command: 'ls' } });
    vault.appendOutput(cmd.id, 'stdout', Buffer.from('a\n'));
    vault.appendOutput(cmd.id, 'stdout', Buffer.from('b\n'));
    vault.appendOutput(cmd.id, 'stderr', Buffer.from('warn\n'));
    const seal = vault.sealOutput(cmd.id, id, { exitCode: 0 });
    expect(() => vault.appendOutput(cmd.id, 'stdout', Buffer.from('late'))).toThrow(VaultError);
    vault.close();
    expect(verifyVault(dir).ok).toBe(true);
    await sqlite(dir, `UPDATE outputs SET data = X'41' WHERE stream = 'stderr'`);
    const r = verifyVault(dir);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.firstBad).toMatchObject({ seq: seal.seq, problem: 'edited' });
  });
});

describe('tampering with the sqlite3 CLI', () => {
  it('an edited payload is named as edited at its seq', async () => {
    const { dir } = filledVault(100);
    await sqlite(dir, `UPDATE events SET payload = '{"i":41,"text":"forged"}' WHERE seq = 42`);
    const r = verifyVault(dir);
    expect(r).toMatchObject({ ok: false, firstBad: { seq: 42, problem: 'edited' } });
  });

  it('a deleted middle row is named as deleted', async () => {
    const { dir } = filledVault(100);
    await sqlite(dir, 'DELETE FROM events WHERE seq = 50');
    expect(verifyVault(dir)).toMatchObject({
      ok: false,
      firstBad: { seq: 50, id: null, problem: 'deleted' },
    });
  });

  it('a forged row inserted in the middle is named as inserted', async () => {
    const { dir, sessionId } = filledVault(100);
    // Make room at seq 50, then insert a row that links correctly to 49.
    await sqlite(
      dir,
      `UPDATE events SET seq = -seq WHERE seq >= 50; UPDATE events SET seq = 1 - seq WHERE seq < 0;
       INSERT INTO events VALUES (50, 'forged', '${sessionId}', 'APPROVAL', '2026-01-01T00:00:00.000Z', '{}',
         (SELECT hash FROM events WHERE seq = 49), '${'f'.repeat(64)}');`,
    );
    expect(verifyVault(dir)).toMatchObject({
      ok: false,
      firstBad: { seq: 50, id: 'forged', problem: 'inserted' },
    });
  });

  it('a forged row appended at the end with a made-up link is named as inserted', async () => {
    const { dir, sessionId } = filledVault(10);
    await sqlite(
      dir,
      `INSERT INTO events VALUES (12, 'forged', '${sessionId}', 'APPROVAL', '2026-01-01T00:00:00.000Z', '{}',
         '${'a'.repeat(64)}', '${'b'.repeat(64)}');`,
    );
    expect(verifyVault(dir)).toMatchObject({ ok: false, firstBad: { seq: 12, problem: 'inserted' } });
  });

  it('two rows with swapped seq are named as reordered', async () => {
    const { dir } = filledVault(100);
    await sqlite(
      dir,
      'UPDATE events SET seq = -1 WHERE seq = 30; UPDATE events SET seq = 30 WHERE seq = 60; UPDATE events SET seq = 60 WHERE seq = -1;',
    );
    expect(verifyVault(dir)).toMatchObject({ ok: false, firstBad: { seq: 30, problem: 'reordered' } });
  });

  it('adjacent swapped rows are named as reordered', async () => {
    const { dir } = filledVault(20);
    await sqlite(
      dir,
      'UPDATE events SET seq = -1 WHERE seq = 7; UPDATE events SET seq = 7 WHERE seq = 8; UPDATE events SET seq = 8 WHERE seq = -1;',
    );
    expect(verifyVault(dir)).toMatchObject({ ok: false, firstBad: { seq: 7, problem: 'reordered' } });
  });

  it('a truncated tail passes alone but fails against an earlier witness', async () => {
    const { dir } = filledVault(100);
    const vault = openVault(dir);
    const witness = vault.head();
    vault.close();
    await sqlite(dir, 'DELETE FROM events WHERE seq > 95');
    expect(verifyVault(dir).ok).toBe(true);
    expect(verifyVault(dir, { witness })).toMatchObject({
      ok: false,
      firstBad: { seq: 101, problem: 'truncated' },
    });
    // Truncate and re-extend: the witnessed seq exists again but with a different hash.
    const again = openVault(dir);
    const [s] = [...again.events({ fromSeq: 1 })];
    again.appendBatch(
      Array.from({ length: 10 }, () => ({ type: 'USER_MSG' as const, sessionId: s!.sessionId, payload: {} })),
    );
    again.close();
    expect(verifyVault(dir, { witness })).toMatchObject({
      ok: false,
      firstBad: { seq: 101, problem: 'witness-mismatch' },
    });
  });
});

describe('opening', () => {
  it('refuses a file of random bytes and leaves it untouched', () => {
    const dir = tempDir();
    const path = vaultPath(dir);
    mkdirSync(dirname(path), { recursive: true });
    const bytes = randomBytes(8192);
    writeFileSync(path, bytes);
    expect(() => openVault(dir)).toThrow(expect.objectContaining({ code: 'VAULT_CORRUPT' }));
    expect(() => verifyVault(dir)).toThrow(expect.objectContaining({ code: 'VAULT_CORRUPT' }));
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it('refuses a damaged SQLite file and a foreign SQLite database', async () => {
    const { dir } = filledVault(10);
    const path = vaultPath(dir);
    const good = readFileSync(path);
    const broken = Buffer.concat([good.subarray(0, 100), randomBytes(good.length - 100)]);
    writeFileSync(path, broken);
    expect(() => openVault(dir)).toThrow(expect.objectContaining({ code: 'VAULT_CORRUPT' }));
    expect(readFileSync(path).equals(broken)).toBe(true);

    const other = tempDir();
    mkdirSync(join(other, 'data'));
    await sqlite(other, 'CREATE TABLE t (x)');
    const before = readFileSync(vaultPath(other));
    expect(() => openVault(other)).toThrow(expect.objectContaining({ code: 'VAULT_CORRUPT' }));
    expect(readFileSync(vaultPath(other)).equals(before)).toBe(true);
  });

  it('refuses a second writer', () => {
    const dir = tempDir();
    const vault = openVault(dir);
    expect(() => openVault(dir)).toThrow(expect.objectContaining({ code: 'VAULT_LOCKED' }));
    vault.close();
    openVault(dir).close();
  });

  it('stays consistent when the writer is killed with SIGKILL', async () => {
    const dir = tempDir();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'writer-child.ts'), dir],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const r = verifyVault(dir);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.events).toBeGreaterThan(1);
    const vault = openVault(dir);
    const [first] = [...vault.events({ fromSeq: 1 })];
    const next = vault.append({ type: 'USER_MSG', sessionId: first!.sessionId, payload: { after: 'kill' } });
    expect(next.seq).toBe(r.head.seq + 1);
    vault.close();
    expect(verifyVault(dir, { witness: r.head })).toMatchObject({ ok: true, events: r.events + 1 });
  });
});
