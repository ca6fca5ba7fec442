import Database, { type BetterSqlite3 } from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { eventHash, GENESIS_HASH } from './canonical.ts';
import { VaultError } from './errors.ts';
import { checkExisting } from './schema.ts';
import { outputDigests, resolveDbPath, type Head } from './vault.ts';

export type Problem = 'edited' | 'deleted' | 'inserted' | 'reordered' | 'witness-mismatch' | 'truncated';

export type VerifyResult =
  | { ok: true; events: number; head: Head }
  | { ok: false; firstBad: { seq: number; id: string | null; problem: Problem }; message: string };

export interface VerifyOptions {
  /** The last head the relay acknowledged; catches a tail cut off and re-chained or simply removed. */
  witness?: Head;
}

type Row = [
  seq: number,
  id: string,
  sessionId: string,
  type: string,
  at: string,
  payload: Buffer,
  prev: string,
  hash: string,
];

// The payload is read as bytes so the hash covers exactly what is stored, with no JSON parse per row.
const SELECT_ROW = 'SELECT seq, id, session_id, type, at, CAST(payload AS BLOB), prev_hash, hash FROM events';

const hashOf = (r: Row, seq = r[0]): string =>
  eventHash({ seq, id: r[1], sessionId: r[2], type: r[3], at: r[4], prevHash: r[6] }, r[5]);

/** Checks the whole chain (and optionally a relay witness) with the database opened read-only. */
export function verifyVault(dirOrDb: string, options: VerifyOptions = {}): VerifyResult {
  const path = resolveDbPath(dirOrDb);
  if (!existsSync(path)) throw new VaultError('VAULT_CORRUPT', `No vault exists at ${path}.`);
  let db: BetterSqlite3.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new VaultError('VAULT_CORRUPT', `${path} cannot be opened (${(err as Error).message}).`);
  }
  try {
    checkExisting(db, path);
    return check(db, options);
  } finally {
    db.close();
  }
}

function check(db: BetterSqlite3.Database, options: VerifyOptions): VerifyResult {
  let prevSeq = 0;
  let prevHash = GENESIS_HASH;
  let count = 0;
  for (const r of db.prepare<Row>(`${SELECT_ROW} ORDER BY seq`).raw().iterate()) {
    if (r[0] === prevSeq + 1 && r[6] === prevHash && hashOf(r) === r[7]) {
      prevSeq = r[0];
      prevHash = r[7];
      count++;
      continue;
    }
    return diagnose(db, r, prevSeq, prevHash);
  }
  const sealBad = checkSeals(db);
  if (sealBad) return sealBad;
  const head = { seq: prevSeq, hash: prevHash };
  const w = options.witness;
  if (w) {
    if (w.seq > prevSeq)
      return fail(
        w.seq,
        null,
        'truncated',
        `The vault ends at seq ${prevSeq} but the relay witnessed seq ${w.seq}.`,
      );
    if (w.seq > 0) {
      const at = db.prepare<Row>(`${SELECT_ROW} WHERE seq = ?`).raw().get(w.seq);
      if (at?.[7] !== w.hash)
        return fail(
          w.seq,
          at?.[1] ?? null,
          'witness-mismatch',
          `Event ${w.seq} no longer has the hash the relay witnessed: the chain after it was rewritten.`,
        );
    }
  }
  return { ok: true, events: count, head };
}

function fail(seq: number, id: string | null, problem: Problem, message: string): VerifyResult {
  return { ok: false, firstBad: { seq, id, problem }, message };
}

/** Names what happened at the first row that does not continue the chain. Runs only on failure. */
function diagnose(db: BetterSqlite3.Database, r: Row, prevSeq: number, prevHash: string): VerifyResult {
  const expected = prevSeq + 1;
  const seqOfHash = (h: string): number | null => {
    if (h === GENESIS_HASH) return 0;
    const hit = db.prepare<[number]>('SELECT seq FROM events WHERE hash = ? LIMIT 1').raw().get(h);
    return hit ? hit[0] : null;
  };
  const rowAt = (seq: number) => db.prepare<Row>(`${SELECT_ROW} WHERE seq = ?`).raw().get(seq);

  if (r[0] > expected)
    return fail(expected, null, 'deleted', `Events ${expected}..${r[0] - 1} are missing from the vault.`);

  // The seq a row was written with: its own if its hash still matches, otherwise one after the original
  // seq of the row its prev_hash names (followed a few links, since that row may have moved too).
  const writtenAt = (row: Row, depth: number): number | null => {
    if (hashOf(row) === row[7]) return row[0];
    if (depth === 0) return null;
    const p = seqOfHash(row[6]);
    if (p === null) return null;
    const pSeq = p === 0 ? 0 : writtenAt(rowAt(p)!, depth - 1);
    return pSeq !== null && hashOf(row, pSeq + 1) === row[7] ? pSeq + 1 : null;
  };
  const pred = seqOfHash(r[6]);
  // A row that links to nothing was never part of this chain, whether or not its own hash holds.
  if (pred === null)
    return fail(
      r[0],
      r[1],
      'inserted',
      `Event ${r[0]} links to no event in the vault: it was not written here.`,
    );
  const intact = writtenAt(r, 8) !== null;
  if (!intact) {
    const next = rowAt(r[0] + 1);
    if (pred === prevSeq && next && next[6] === prevHash)
      return fail(
        r[0],
        r[1],
        'inserted',
        `Event ${r[0]} was inserted: the next event still follows ${prevSeq}.`,
      );
    return fail(r[0], r[1], 'edited', `Event ${r[0]} was changed after it was written.`);
  }
  if (pred < prevSeq) {
    const extra = rowAt(pred + 1);
    return fail(
      pred + 1,
      extra?.[1] ?? null,
      'inserted',
      `Event ${pred + 1} was inserted: event ${r[0]} was written right after ${pred}.`,
    );
  }
  return fail(
    r[0],
    r[1],
    'reordered',
    `Event ${r[0]} was written after event ${pred}, not after ${prevSeq}.`,
  );
}

/** Each seal event commits to its command's output; recompute from the stored chunks. */
function checkSeals(db: BetterSqlite3.Database): VerifyResult | null {
  const seals = db
    .prepare<{ seq: number; id: string; payload: string }>(
      "SELECT seq, id, payload FROM events WHERE type = 'CMD_EXEC' AND json_extract(payload, '$.sealOf') IS NOT NULL",
    )
    .all();
  const chunks = db.prepare<{ stream: string; data: Buffer }>(
    'SELECT stream, data FROM outputs WHERE event_id = ? ORDER BY stream, chunk_seq',
  );
  for (const s of seals) {
    const want = JSON.parse(s.payload) as { sealOf: string } & Record<string, unknown>;
    // Iterated, not read whole: a sealed output may be gigabytes.
    if (!sameDigests(want, outputDigests(chunks.iterate(want.sealOf))))
      return fail(
        s.seq,
        s.id,
        'edited',
        `The stored output of command ${want.sealOf} differs from what event ${s.seq} sealed.`,
      );
  }
  return null;
}

function sameDigests(want: unknown, got: ReturnType<typeof outputDigests>): boolean {
  const w = want as Record<string, Record<string, unknown> | undefined>;
  return (['stdout', 'stderr'] as const).every(
    (k) => w[k]?.bytes === got[k].bytes && w[k]?.chunks === got[k].chunks && w[k]?.sha256 === got[k].sha256,
  );
}
