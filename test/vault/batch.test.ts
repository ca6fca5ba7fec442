import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openVault, verifyVault, VaultError, type NewEvent } from '../../operator/src/vault/index.ts';
import { sqlite, tempDir } from './helpers.ts';

const batchOf = (sessionId: string, n: number, tag: string): NewEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    type: 'CMD_EXEC' as const,
    sessionId,
    payload: { tag, i, command: `echo ${i}`, exitCode: 0 },
  }));

describe('batched chained appends', () => {
  it('chain every event of a batch to the one before, and sqlite3 edits inside a batch are named', async () => {
    const dir = tempDir();
    const vault = openVault(dir);
    const { id } = vault.startSession({ operatorId: 'op-batch' });
    // A batch larger than one multi-row INSERT and not a multiple of it, so both insert paths run.
    const first = vault.appendBatch(batchOf(id, 1000, 'a'));
    const second = vault.appendBatch(batchOf(id, 77, 'b'));
    expect(first.map((a) => a.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 2));
    expect(second[0]!.seq).toBe(1002);
    const stored = [...vault.events({ fromSeq: 2 })];
    for (let i = 1; i < stored.length; i++) expect(stored[i]!.prevHash).toBe(stored[i - 1]!.hash);
    const head = vault.head();
    expect(head).toEqual({ seq: 1078, hash: second.at(-1)!.hash });
    vault.close();
    expect(verifyVault(dir, { witness: head })).toEqual({ ok: true, events: 1078, head });

    const target = first[536]!;
    await sqlite(
      dir,
      `UPDATE events SET payload = '{"tag":"a","i":536,"command":"rm -rf /","exitCode":0}' WHERE seq = ${target.seq}`,
    );
    const r = verifyVault(dir);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.firstBad).toEqual({ seq: target.seq, id: target.id, problem: 'edited' });
    expect(r.message).toContain(`Event ${target.seq}`);
  });

  it('a batch that throws half-way leaves nothing of it, and the chain goes on from the old head', async () => {
    const dir = tempDir();
    const vault = openVault(dir);
    const { id } = vault.startSession({ operatorId: 'op-batch' });
    vault.appendBatch(batchOf(id, 10, 'kept'));
    const before = vault.head();

    // Thrown by our own checks after 700 events were already inserted in the transaction...
    const badPayload = batchOf(id, 1000, 'lost');
    badPayload[700] = { type: 'CMD_EXEC', sessionId: id, payload: { n: Number.NaN } };
    expect(() => vault.appendBatch(badPayload)).toThrow(VaultError);
    // ...and by SQLite itself (an unknown session fails its foreign key) in the middle of a multi-row INSERT.
    const badSession = batchOf(id, 1000, 'lost');
    badSession[613] = { type: 'CMD_EXEC', sessionId: 'no-such-session', payload: {} };
    expect(() => vault.appendBatch(badSession)).toThrow(expect.objectContaining({ code: 'BAD_EVENT' }));

    expect(vault.head()).toEqual(before);
    expect(await sqlite(dir, `SELECT count(*) FROM events WHERE payload LIKE '%"lost"%'`)).toBe('0');
    const next = vault.appendBatch(batchOf(id, 5, 'after'));
    expect(next[0]!.seq).toBe(before.seq + 1);
    expect([...vault.events({ fromSeq: next[0]!.seq })][0]!.prevHash).toBe(before.hash);
    vault.close();
    expect(verifyVault(dir)).toMatchObject({ ok: true, events: before.seq + 5 });
  });
});

describe('output batches and sealing', () => {
  const chunk = (s: string, n: number) => Buffer.from(s.repeat(n));

  it('stores a batch of chunks whole or not at all, and the seal commits to exactly what is stored', () => {
    const dir = tempDir();
    const vault = openVault(dir);
    const { id } = vault.startSession({ operatorId: 'op-out' });
    const cmd = vault.append({ type: 'CMD_EXEC', sessionId: id, payload: { command: 'make' } });
    vault.appendOutputs(cmd.id, [
      { stream: 'stdout', data: chunk('a', 1000) },
      { stream: 'stderr', data: chunk('e', 10) },
      { stream: 'stdout', data: chunk('b', 1000) },
    ]);
    expect(() =>
      vault.appendOutputs(cmd.id, [
        { stream: 'stdout', data: chunk('x', 5) },
        { stream: 'stdlog' as 'stdout', data: chunk('y', 5) },
      ]),
    ).toThrow(expect.objectContaining({ code: 'BAD_OUTPUT' }));
    expect(vault.appendOutput(cmd.id, 'stdout', chunk('c', 3))).toEqual({ chunkSeq: 2 });
    const seal = vault.sealOutput(cmd.id, id, { exitCode: 0 });
    expect(() => vault.appendOutputs(cmd.id, [{ stream: 'stdout', data: chunk('z', 1) }])).toThrow(
      VaultError,
    );
    const payload = [...vault.events({ fromSeq: seal.seq })][0]!.payload as Record<string, unknown>;
    vault.close();

    const stdout = Buffer.concat([chunk('a', 1000), chunk('b', 1000), chunk('c', 3)]);
    expect(payload).toMatchObject({
      sealOf: cmd.id,
      stdout: { bytes: 2003, chunks: 3, sha256: createHash('sha256').update(stdout).digest('hex') },
      stderr: { bytes: 10, chunks: 1, sha256: createHash('sha256').update(chunk('e', 10)).digest('hex') },
    });
    expect(verifyVault(dir).ok).toBe(true);
  });

  it('seals an output left open by an earlier writer by streaming its stored chunks', async () => {
    const dir = tempDir();
    let vault = openVault(dir);
    const { id } = vault.startSession({ operatorId: 'op-out' });
    const cmd = vault.append({ type: 'CMD_EXEC', sessionId: id, payload: { command: 'cat big.log' } });
    // 24 MiB in 256 KiB chunks: the chunks are fed to the hash one row at a time, never gathered.
    const hash = createHash('sha256');
    for (let b = 0; b < 24; b++) {
      const chunks = Array.from({ length: 4 }, (_, k) => ({
        stream: 'stdout' as const,
        data: Buffer.alloc(256 * 1024, (b * 4 + k) % 251),
      }));
      for (const c of chunks) hash.update(c.data);
      vault.appendOutputs(cmd.id, chunks);
    }
    vault.close();

    vault = openVault(dir);
    // The first touch after reopening tallies what is stored, and later chunks continue its numbering.
    vault.appendOutput(cmd.id, 'stdout', Buffer.from('tail\n'));
    hash.update('tail\n');
    const seal = vault.sealOutput(cmd.id, id, { exitCode: 0 });
    const sealed = [...vault.events({ fromSeq: seal.seq })][0]!.payload as Record<string, unknown>;
    vault.close();
    expect(sealed).toMatchObject({
      stdout: { bytes: 24 * 1024 * 1024 + 5, chunks: 97, sha256: hash.digest('hex') },
      stderr: { bytes: 0, chunks: 0 },
    });
    expect(await sqlite(dir, `SELECT max(chunk_seq) FROM outputs WHERE event_id = '${cmd.id}'`)).toBe('96');
    expect(verifyVault(dir).ok).toBe(true);
  });
});
