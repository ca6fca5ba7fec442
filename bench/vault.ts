// Audit vault throughput: chained appends one per transaction, chained appends batched, and raw SQLite
// inserts of similar rows (same schema and pragmas, ids/hashes precomputed, no chaining) as the yardstick.
import Database from 'better-sqlite3';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { eventId } from '../operator/src/vault/ids.ts';
import { openVault, vaultPath, verifyVault } from '../operator/src/vault/index.ts';
import { report } from './lib.ts';

const perSecond = (n: number, ms: number) =>
  `${Math.round((n / ms) * 1000).toLocaleString('en-US')} events/s`;

export async function benchVault(workDir: string): Promise<void> {
  mkdirSync(workDir, { recursive: true });
  const root = mkdtempSync(join(workDir, 'vault-bench-'));
  try {
    const payload = (i: number) => ({ command: 'kubectl get pods -n prod', exitCode: 0, i, cwd: '/srv/app' });

    const singleDir = join(root, 'single');
    const single = openVault(singleDir);
    const s1 = single.startSession({ operatorId: 'bench', relay: 'https://relay.bench' }).id;
    const singleN = 20_000;
    let t = performance.now();
    for (let i = 0; i < singleN; i++) single.append({ type: 'CMD_EXEC', sessionId: s1, payload: payload(i) });
    const singleMs = performance.now() - t;
    single.close();

    const batchDir = join(root, 'batched');
    const batched = openVault(batchDir);
    const s2 = batched.startSession({ operatorId: 'bench' }).id;
    const total = 200_000;
    const size = 1_000;
    t = performance.now();
    for (let b = 0; b < total / size; b++)
      batched.appendBatch(
        Array.from({ length: size }, (_, i) => ({
          type: 'CMD_EXEC' as const,
          sessionId: s2,
          payload: payload(b * size + i),
        })),
      );
    const batchMs = performance.now() - t;
    batched.close();

    t = performance.now();
    const verified = verifyVault(batchDir);
    const verifyMs = performance.now() - t;
    if (!verified.ok) throw new Error(`bench vault failed verification: ${verified.message}`);

    // Raw: same table and pragmas, rows prepared up front (payload string, ids, hash-shaped text).
    const rawDir = join(root, 'raw');
    openVault(rawDir).close();
    const db = new Database(vaultPath(rawDir));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('cache_size = -32768');
    const rawSession = randomUUID();
    db.prepare(
      "INSERT INTO sessions (id, started_at, operator_id) VALUES (?, '2026-01-01T00:00:00.000Z', 'b')",
    ).run(rawSession);
    const insert = db.prepare(
      'INSERT INTO events (seq, id, session_id, type, at, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const fake = createHash('sha256').update('x').digest('hex');
    const rows = Array.from(
      { length: total },
      (_, i) => [i + 1, eventId(), JSON.stringify(payload(i))] as const,
    );
    const at = new Date().toISOString();
    const insertMany = db.transaction((from: number) => {
      for (let i = from; i < from + size; i++) {
        const r = rows[i]!;
        insert.run(r[0], r[1], rawSession, 'CMD_EXEC', at, r[2], fake, fake);
      }
    });
    t = performance.now();
    for (let b = 0; b < total; b += size) insertMany(b);
    const rawMs = performance.now() - t;
    db.close();

    report('audit vault (better-sqlite3, WAL, synchronous=NORMAL)', {
      'chained, 1 per transaction': `${perSecond(singleN, singleMs)} (${singleN.toLocaleString('en-US')} events)`,
      [`chained, ${size.toLocaleString('en-US')} per transaction`]: `${perSecond(total, batchMs)} (${total.toLocaleString('en-US')} events)`,
      [`raw inserts, ${size.toLocaleString('en-US')} per transaction`]: `${perSecond(total, rawMs)} (no hashing, no chain)`,
      'verify (full chain)': `${perSecond(verified.events, verifyMs)} (${verified.events.toLocaleString('en-US')} events)`,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchVault(join(process.cwd(), '.bench'));
