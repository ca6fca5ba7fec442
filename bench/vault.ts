// Audit vault throughput: chained appends one per transaction, chained appends batched, and two raw SQLite
// yardsticks with the same pragmas: inserts of the same rows into the same schema (ids and hashes
// precomputed, no chaining), and the plain `INSERT INTO t (id, data)` that "raw SQLite inserts/s" means.
// CPU-time rates sit beside wall-clock ones: on a shared machine the wall clock also counts waiting for a core.
import Database, { type BetterSqlite3 } from 'better-sqlite3';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { eventId } from '../operator/src/vault/ids.ts';
import { openVault, vaultPath, verifyVault } from '../operator/src/vault/index.ts';
import { report } from './lib.ts';

const perSecond = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString('en-US')}/s`;

/** Runs `fn` and returns its wall-clock and CPU milliseconds. */
function timed(fn: () => void): { wall: number; cpu: number } {
  const cpu = process.cpuUsage();
  const t = performance.now();
  fn();
  const wall = performance.now() - t;
  const used = process.cpuUsage(cpu);
  return { wall, cpu: (used.user + used.system) / 1000 };
}
const rates = (n: number, t: { wall: number; cpu: number }) =>
  `${perSecond(n, t.wall)} wall, ${perSecond(n, t.cpu)} per CPU second`;

function tuned(path: string): BetterSqlite3.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('cache_size = -32768');
  return db;
}

export async function benchVault(workDir: string): Promise<void> {
  mkdirSync(workDir, { recursive: true });
  const root = mkdtempSync(join(workDir, 'vault-bench-'));
  try {
    const payload = (i: number) => ({ command: 'kubectl get pods -n prod', exitCode: 0, i, cwd: '/srv/app' });

    const singleDir = join(root, 'single');
    const single = openVault(singleDir);
    const s1 = single.startSession({ operatorId: 'bench', relay: 'https://relay.bench' }).id;
    const singleN = 20_000;
    const singleT = timed(() => {
      for (let i = 0; i < singleN; i++)
        single.append({ type: 'CMD_EXEC', sessionId: s1, payload: payload(i) });
    });
    single.close();

    const batchDir = join(root, 'batched');
    const batched = openVault(batchDir);
    const s2 = batched.startSession({ operatorId: 'bench' }).id;
    const total = 200_000;
    const size = 1_000;
    const batches = Array.from({ length: total / size }, (_, b) =>
      Array.from({ length: size }, (_, i) => ({
        type: 'CMD_EXEC' as const,
        sessionId: s2,
        payload: payload(b * size + i),
      })),
    );
    const batchT = timed(() => {
      for (const batch of batches) batched.appendBatch(batch);
    });
    batched.close();

    let verified: ReturnType<typeof verifyVault> | undefined;
    const verifyT = timed(() => (verified = verifyVault(batchDir)));
    if (!verified!.ok) throw new Error(`bench vault failed verification: ${verified!.message}`);

    // Raw, same schema: the vault's tables and pragmas, rows prepared up front, one INSERT per row.
    const rawDir = join(root, 'raw');
    openVault(rawDir).close();
    const db = tuned(vaultPath(rawDir));
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
    const rawT = timed(() => {
      for (let b = 0; b < total; b += size) insertMany(b);
    });
    db.close();

    // Raw, plain: the simplest table SQLite can insert into, with the same payload text.
    const plain = tuned(join(root, 'plain.db'));
    plain.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, data TEXT NOT NULL)');
    const insertPlain = plain.prepare('INSERT INTO t (id, data) VALUES (?, ?)');
    const plainMany = plain.transaction((from: number) => {
      for (let i = from; i < from + size; i++) insertPlain.run(i + 1, rows[i]![2]);
    });
    const plainT = timed(() => {
      for (let b = 0; b < total; b += size) plainMany(b);
    });
    plain.close();

    const n = (x: number) => x.toLocaleString('en-US');
    report('audit vault (better-sqlite3, WAL, synchronous=NORMAL)', {
      'chained, 1 per transaction': `${rates(singleN, singleT)} (${n(singleN)} events)`,
      [`chained, ${n(size)} per transaction`]: `${rates(total, batchT)} (${n(total)} events)`,
      [`raw SQLite, same rows and schema, ${n(size)} per transaction`]: `${rates(total, rawT)} (no hashing, no chain)`,
      [`raw SQLite, plain (id, data) table, ${n(size)} per transaction`]: rates(total, plainT),
      'verify (full chain)': `${rates(verified!.events, verifyT)} (${n(verified!.events)} events)`,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchVault(join(process.cwd(), '.bench'));
