import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vaultPath, verifyVault } from '../../operator/src/vault/index.ts';
import { bench, type Bench } from './helpers.ts';

let b: Bench;
beforeAll(async () => {
  b = await bench();
});
afterAll(() => b.close());

describe('output capture', () => {
  it('streams a large output into the vault in batches and seals it without reading it back whole', async () => {
    const size = 40 * 1024 * 1024;
    const r = await b.run(`head -c ${size} /dev/urandom; echo done >&2`, { mode: 'approved' });
    expect(r.exitCode).toBe(0);
    expect(r.stdoutBytes).toBe(size);
    expect(r.stderrBytes).toBe(5);

    // Read back row by row, as someone checking the file would.
    const db = new Database(vaultPath(join(b.dir, '.dropops')), { readonly: true });
    const whole = createHash('sha256');
    const perStream = { stdout: createHash('sha256'), stderr: createHash('sha256') };
    let rows = 0;
    let largest = 0;
    try {
      const chunks = db
        .prepare<{ stream: 'stdout' | 'stderr'; chunk_seq: number; data: Buffer }>(
          'SELECT stream, chunk_seq, data FROM outputs WHERE event_id = ? ORDER BY stream DESC, chunk_seq',
        )
        .iterate(r.eventId);
      for (const c of chunks) {
        whole.update(c.data);
        perStream[c.stream].update(c.data);
        largest = Math.max(largest, c.data.length);
        rows++;
      }
    } finally {
      db.close();
    }
    expect(whole.digest('hex')).toBe(r.sha256);
    expect(rows).toBeGreaterThanOrEqual(size / (256 * 1024));
    expect(largest).toBeLessThanOrEqual(256 * 1024);

    const seal = [...b.vault.events({ type: 'CMD_EXEC' })].find((e) => e.id === r.sealEventId)!;
    expect(seal.payload).toMatchObject({
      sealOf: r.eventId,
      stdout: { bytes: size, sha256: perStream.stdout.digest('hex') },
      stderr: { bytes: 5, chunks: 1, sha256: perStream.stderr.digest('hex') },
    });
    expect(verifyVault(join(b.dir, '.dropops')).ok).toBe(true);
  });
});
