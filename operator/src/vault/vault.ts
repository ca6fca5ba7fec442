import Database, { type BetterSqlite3 } from 'better-sqlite3';
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { eventId, nowIso } from './ids.ts';
import { closeSync, existsSync, mkdirSync, openSync, readSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { canonicalJson, encodedEventHash, GENESIS_HASH, jsonString } from './canonical.ts';
import { VaultError } from './errors.ts';
import { acquireLock } from './lock.ts';
import { checkExisting, EVENT_TYPES, migrate, type EventType } from './schema.ts';

export const defaultVaultDir = (): string => resolve(process.cwd(), '.dropops');
export const vaultPath = (dir: string): string => join(dir, 'data', 'dropops.db');

/** Accepts a vault directory or the database file itself. */
export function resolveDbPath(dirOrDb: string): string {
  return dirOrDb.endsWith('.db') ? dirOrDb : vaultPath(dirOrDb);
}

export interface NewEvent {
  type: EventType;
  sessionId: string;
  payload: unknown;
  at?: string;
}
export interface Appended {
  seq: number;
  id: string;
  hash: string;
}
export interface Head {
  seq: number;
  hash: string;
}
export interface StoredEvent {
  seq: number;
  id: string;
  sessionId: string;
  type: EventType;
  at: string;
  payload: unknown;
  prevHash: string;
  hash: string;
}
export interface EventQuery {
  fromSeq?: number;
  sessionId?: string;
  type?: EventType;
}
export interface SessionInfo {
  operatorId: string;
  relay?: string | null;
  id?: string;
  at?: string;
}
export interface OutputDigest {
  bytes: number;
  chunks: number;
  sha256: string;
}
export type OutputStream = 'stdout' | 'stderr';
export interface OutputChunk {
  stream: OutputStream;
  data: Buffer;
}

/** One stream of an output that is still open: the next chunk number and a running digest of the stored bytes. */
interface StreamTally {
  next: number;
  chunks: number;
  bytes: number;
  hash: Hash;
}
type OutputTally = Record<OutputStream, StreamTally>;

export interface Vault {
  readonly path: string;
  startSession(info: SessionInfo): { id: string; startedAt: string; connect: Appended };
  append(event: NewEvent): Appended;
  appendBatch(events: readonly NewEvent[]): Appended[];
  appendOutput(eventId: string, stream: OutputStream, chunk: Buffer): { chunkSeq: number };
  /** Several chunks of one command's output in one transaction: all of them are stored, or none. */
  appendOutputs(eventId: string, chunks: readonly OutputChunk[]): void;
  sealOutput(eventId: string, sessionId: string, extra?: Record<string, unknown>): Appended;
  head(): Head;
  events(query?: EventQuery): IterableIterator<StoredEvent>;
  close(): void;
}

export interface OpenOptions {
  /** Create the vault when the file does not exist (default true). */
  create?: boolean;
  /** Milliseconds SQLite waits on a busy database before reporting it (default 250). */
  busyTimeoutMs?: number;
}

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const typeSet = new Set<string>(EVENT_TYPES);

const EVENT_COLUMNS = 'INSERT INTO events (seq, id, session_id, type, at, payload, prev_hash, hash) VALUES ';
const EVENT_ROW = '(?, ?, ?, ?, ?, ?, ?, ?)';
/**
 * Rows per multi-row INSERT in a batch: one statement run binds 32 rows, which measured ~1.5x the rows/s of
 * one run per row (the per-run cost in better-sqlite3 and SQLite dominates a small row).
 */
const ROWS_PER_INSERT = 32;
const FIELDS_PER_ROW = 8;
const PAGE_SIZE = 16384;

function looksLikeSqlite(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(16);
    return readSync(fd, header, 0, 16, 0) === 16 && header.toString('latin1') === 'SQLite format 3\0';
  } finally {
    closeSync(fd);
  }
}

function sqliteCode(err: unknown): string {
  return String((err as { code?: unknown }).code ?? '');
}

/** Opens a vault for appending; creates one only when the database file does not exist. */
export function openVault(dir: string, options: OpenOptions = {}): Vault {
  const path = resolveDbPath(dir);
  const exists = existsSync(path);
  if (!exists && options.create === false)
    throw new VaultError('VAULT_CORRUPT', `No vault exists at ${path}.`);
  // Checked before SQLite touches the file: never write into (or over) something that is not ours.
  if (exists && !looksLikeSqlite(path))
    throw new VaultError(
      'VAULT_CORRUPT',
      `${path} exists but is not an SQLite database; it was left untouched.`,
    );
  mkdirSync(dirname(path), { recursive: true });
  const release = acquireLock(path + '.lock');
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: exists, timeout: options.busyTimeoutMs ?? 250 });
    const version = exists ? checkExisting(db, path) : 0;
    // WAL: appends never block the sqlite3 CLI or verifyVault reading. synchronous=NORMAL in WAL mode loses
    // no committed transaction when the process is killed (the WAL is in the OS cache); only a power cut can
    // drop the last few commits, and those would be the tail the relay witness then shows as missing.
    // 16 KiB pages for a new vault (an existing WAL file keeps its own): a commit writes a quarter as many
    // WAL frames and checkpoints copy fewer, which measured ~9% more batched appends than 4 KiB.
    if (!exists) db.pragma(`page_size = ${PAGE_SIZE}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // A larger page cache keeps the tables' hot pages in memory during long batches.
    db.pragma('cache_size = -32768');
    migrate(db, version);
    return new SqliteVault(db, path, release);
  } catch (err) {
    db?.close();
    release();
    if (err instanceof VaultError) throw err;
    const code = sqliteCode(err);
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED')
      throw new VaultError(
        'VAULT_LOCKED',
        `${path} is locked by another writer; try again when it is closed.`,
      );
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT')
      throw new VaultError('VAULT_CORRUPT', `${path} is damaged and cannot be opened as a vault (${code}).`);
    throw err;
  }
}

interface HeadRow {
  seq: number;
  hash: string;
}
interface EventRow {
  seq: number;
  id: string;
  session_id: string;
  type: EventType;
  at: string;
  payload: string;
  prev_hash: string;
  hash: string;
}

class SqliteVault implements Vault {
  private readonly insertEvent: BetterSqlite3.Statement;
  private readonly insertEvents: BetterSqlite3.Statement;
  private readonly lastRow: BetterSqlite3.Statement<HeadRow>;
  private readonly insertSession: BetterSqlite3.Statement;
  private readonly insertOutput: BetterSqlite3.Statement;
  private readonly eventById: BetterSqlite3.Statement<{ type: string; seq: number }>;
  private readonly sessionExists: BetterSqlite3.Statement;
  private readonly sealFor: BetterSqlite3.Statement<{ seq: number }>;
  private readonly chunksOf: BetterSqlite3.Statement<{ stream: string; chunk_seq: number; data: Buffer }>;
  private readonly batch: (events: readonly NewEvent[]) => Appended[];
  /**
   * Outputs this writer has open, tallied as their chunks are stored, so neither a chunk nor the seal has to
   * query or re-read what came before (a seal of a gigabyte would otherwise read it back). The vault has one
   * writer (the pid lock), so the tally cannot drift from the table; an output left open by an earlier
   * process is tallied from its stored chunks the first time it is touched.
   */
  private readonly openOutputs = new Map<string, OutputTally>();
  private closed = false;

  constructor(
    private readonly db: BetterSqlite3.Database,
    readonly path: string,
    private readonly release: () => void,
  ) {
    this.insertEvent = db.prepare(EVENT_COLUMNS + EVENT_ROW);
    this.lastRow = db.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1');
    this.insertSession = db.prepare(
      'INSERT INTO sessions (id, started_at, operator_id, relay) VALUES (?, ?, ?, ?)',
    );
    this.insertOutput = db.prepare(
      'INSERT INTO outputs (event_id, stream, chunk_seq, data) VALUES (?, ?, ?, ?)',
    );
    // No index on id: the scan runs back from the head, and the command whose output is being stored was
    // appended moments before, so it stops after a few rows. Only an unknown id reads the whole table.
    this.eventById = db.prepare('SELECT type, seq FROM events WHERE id = ? ORDER BY seq DESC LIMIT 1');
    this.sessionExists = db.prepare('SELECT 1 FROM sessions WHERE id = ?');
    this.sealFor = db.prepare(
      // A seal always follows its command, so only rows after the command are scanned (no index needed).
      "SELECT seq FROM events WHERE seq > ? AND type = 'CMD_EXEC' AND json_extract(payload, '$.sealOf') = ? LIMIT 1",
    );
    this.chunksOf = db.prepare(
      'SELECT stream, chunk_seq, data FROM outputs WHERE event_id = ? ORDER BY stream, chunk_seq',
    );
    this.insertEvents = db.prepare(EVENT_COLUMNS + Array(ROWS_PER_INSERT).fill(EVENT_ROW).join(', '));
    // The head is read from the last row inside the write transaction, so it cannot drift from the table.
    this.batch = db.transaction((events: readonly NewEvent[]) => this.chain(events)).immediate;
  }

  /**
   * Hashes and inserts the events after the current head. The hash input is built here from parts encoded
   * once: ids (from eventId), types (checked against the list) and times (ISO, checked) never need escaping,
   * a session's JSON is reused while the batch stays in it, and each prev_hash is our own hex digest except
   * the stored head, which goes through jsonString like any value read back from the file.
   */
  private chain(events: readonly NewEvent[]): Appended[] {
    const last = this.lastRow.get();
    let seq = last?.seq ?? 0;
    let prev = last?.hash ?? GENESIS_HASH;
    let prevJson = jsonString(prev);
    let sessionId = '';
    let sessionJson = '';
    const out: Appended[] = new Array(events.length);
    const rows: unknown[] = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const { payload, at } = this.prepareEvent(e);
      if (e.sessionId !== sessionId) {
        // In place of a foreign key: one lookup each time the batch changes session, not one per row.
        if (this.sessionExists.get(e.sessionId) === undefined)
          throw new VaultError(
            'BAD_EVENT',
            `The event names session ${e.sessionId}, which the vault does not hold; start it first.`,
          );
        sessionId = e.sessionId;
        sessionJson = jsonString(sessionId);
      }
      seq++;
      const id = eventId();
      const hash = encodedEventHash(
        '[' + seq + ',"' + id + '",' + sessionJson + ',"' + e.type + '","' + at + '",',
        payload,
        ',' + prevJson + ']',
      );
      rows.push(seq, id, sessionId, e.type, at, payload, prev, hash);
      if (rows.length === ROWS_PER_INSERT * FIELDS_PER_ROW) {
        // Spread, not one array argument: better-sqlite3 then reads the values straight from the call
        // instead of one property lookup each (measured ~8% of an insert).
        this.insertEvents.run(...rows);
        rows.length = 0;
      }
      prev = hash;
      prevJson = '"' + hash + '"';
      out[i] = { seq, id, hash };
    }
    for (let r = 0; r < rows.length; r += FIELDS_PER_ROW)
      this.insertEvent.run(...rows.slice(r, r + FIELDS_PER_ROW));
    return out;
  }

  private prepareEvent(e: NewEvent): { payload: string; at: string } {
    if (!typeSet.has(e.type)) throw new VaultError('BAD_EVENT', `Unknown event type ${String(e.type)}.`);
    if (typeof e.sessionId !== 'string' || e.sessionId === '')
      throw new VaultError('BAD_EVENT', 'An event needs the id of the session it belongs to.');
    const at = e.at ?? nowIso();
    if (e.at !== undefined && !ISO_MS.test(at))
      throw new VaultError('BAD_EVENT', `Event time ${at} is not an ISO timestamp in ms.`);
    return { payload: canonicalJson(e.payload), at };
  }

  private open(): void {
    if (this.closed) throw new VaultError('VAULT_CLOSED', 'The vault has been closed.');
  }

  private write<T>(fn: () => T): T {
    this.open();
    try {
      return fn();
    } catch (err) {
      if (err instanceof VaultError) throw err;
      const code = sqliteCode(err);
      if (code === 'SQLITE_BUSY') throw new VaultError('VAULT_LOCKED', 'Another writer holds the vault.');
      throw err;
    }
  }

  startSession(info: SessionInfo): { id: string; startedAt: string; connect: Appended } {
    const id = info.id ?? randomUUID();
    const startedAt = info.at ?? new Date().toISOString();
    const relay = info.relay ?? null;
    // The session row is not hashed itself; its CONNECT event carries the same fields into the chain.
    return this.write(() =>
      this.db
        .transaction(() => {
          this.insertSession.run(id, startedAt, info.operatorId, relay);
          const [connect] = this.batch([
            {
              type: 'CONNECT',
              sessionId: id,
              at: startedAt,
              payload: { operatorId: info.operatorId, relay, startedAt },
            },
          ]);
          return { id, startedAt, connect: connect! };
        })
        .immediate(),
    );
  }

  append(event: NewEvent): Appended {
    return this.write(() => this.batch([event])[0]!);
  }

  appendBatch(events: readonly NewEvent[]): Appended[] {
    if (events.length === 0) return [];
    return this.write(() => this.batch(events));
  }

  appendOutput(eventId: string, stream: OutputStream, chunk: Buffer): { chunkSeq: number } {
    this.appendOutputs(eventId, [{ stream, data: chunk }]);
    return { chunkSeq: this.openOutputs.get(eventId)![stream].next - 1 };
  }

  appendOutputs(eventId: string, chunks: readonly OutputChunk[]): void {
    for (const { stream, data } of chunks) {
      if (stream !== 'stdout' && stream !== 'stderr')
        throw new VaultError('BAD_OUTPUT', `Output stream must be stdout or stderr, not ${String(stream)}.`);
      if (!Buffer.isBuffer(data)) throw new VaultError('BAD_OUTPUT', 'An output chunk must be a Buffer.');
    }
    if (chunks.length === 0) return;
    // The tally is staged on copies and kept only once the transaction has committed, so a batch that fails
    // (a full disk, say) leaves both the table and the tally as they were.
    const tally = this.write(() =>
      this.db
        .transaction(() => {
          const staged = copyTally(this.outputTally(eventId, 'Output belongs to a CMD_EXEC event'));
          for (const { stream, data } of chunks) {
            const t = staged[stream];
            this.insertOutput.run(eventId, stream, t.next, data);
            t.next++;
            t.chunks++;
            t.bytes += data.length;
            t.hash.update(data);
          }
          return staged;
        })
        .immediate(),
    );
    this.openOutputs.set(eventId, tally);
  }

  sealOutput(eventId: string, sessionId: string, extra: Record<string, unknown> = {}): Appended {
    const sealed = this.write(() =>
      this.db
        .transaction(() => {
          const tally = this.outputTally(eventId, 'Only a CMD_EXEC event has output to seal');
          const [sealed] = this.batch([
            {
              type: 'CMD_EXEC',
              sessionId,
              payload: { ...extra, sealOf: eventId, ...tallyDigests(tally) },
            },
          ]);
          return sealed!;
        })
        .immediate(),
    );
    this.openOutputs.delete(eventId);
    return sealed;
  }

  /** The tally of an open output; checks, the first time only, that it exists and is not sealed. */
  private outputTally(eventId: string, notCommand: string): OutputTally {
    const known = this.openOutputs.get(eventId);
    if (known) return known;
    const owner = this.eventById.get(eventId);
    if (owner?.type !== 'CMD_EXEC')
      throw new VaultError('BAD_OUTPUT', `${notCommand}; ${eventId} is not one.`);
    if (this.sealFor.get(owner.seq, eventId))
      throw new VaultError(
        'BAD_OUTPUT',
        `The output of ${eventId} is sealed; nothing more can be added or sealed.`,
      );
    const tally = emptyTally();
    // Streamed row by row: an output left open by a killed writer may be gigabytes.
    for (const c of this.chunksOf.iterate(eventId)) {
      const t = tally[c.stream as OutputStream];
      t.next = c.chunk_seq + 1;
      t.chunks++;
      t.bytes += c.data.length;
      t.hash.update(c.data);
    }
    this.openOutputs.set(eventId, tally);
    return tally;
  }

  head(): Head {
    this.open();
    const last = this.lastRow.get();
    return { seq: last?.seq ?? 0, hash: last?.hash ?? GENESIS_HASH };
  }

  *events(query: EventQuery = {}): IterableIterator<StoredEvent> {
    this.open();
    const where: string[] = ['seq >= ?'];
    const params: unknown[] = [query.fromSeq ?? 1];
    if (query.sessionId !== undefined) {
      where.push('session_id = ?');
      params.push(query.sessionId);
    }
    if (query.type !== undefined) {
      where.push('type = ?');
      params.push(query.type);
    }
    const stmt = this.db.prepare<EventRow>(`SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY seq`);
    for (const r of stmt.iterate(...params)) {
      yield {
        seq: r.seq,
        id: r.id,
        sessionId: r.session_id,
        type: r.type,
        at: r.at,
        payload: JSON.parse(r.payload) as unknown,
        prevHash: r.prev_hash,
        hash: r.hash,
      };
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
    this.release();
  }
}

const emptyTally = (): OutputTally => ({
  stdout: { next: 0, chunks: 0, bytes: 0, hash: createHash('sha256') },
  stderr: { next: 0, chunks: 0, bytes: 0, hash: createHash('sha256') },
});

const copyTally = (t: OutputTally): OutputTally => ({
  stdout: { ...t.stdout, hash: t.stdout.hash.copy() },
  stderr: { ...t.stderr, hash: t.stderr.hash.copy() },
});

/** What a seal commits to; digests a copy, so a seal that fails leaves the tally usable. */
function tallyDigests(t: OutputTally): { stdout: OutputDigest; stderr: OutputDigest } {
  const digest = (s: StreamTally): OutputDigest => ({
    bytes: s.bytes,
    chunks: s.chunks,
    sha256: s.hash.copy().digest('hex'),
  });
  return { stdout: digest(t.stdout), stderr: digest(t.stderr) };
}

/**
 * Per-stream size, chunk count and sha256 over the chunks in order: what a seal event commits to. Takes the
 * chunks as an iterable so a caller can stream them from SQLite without holding the whole output.
 */
export function outputDigests(chunks: Iterable<{ stream: string; data: Buffer }>): {
  stdout: OutputDigest;
  stderr: OutputDigest;
} {
  const tally = emptyTally();
  for (const c of chunks) {
    const t = c.stream === 'stderr' ? tally.stderr : tally.stdout;
    t.hash.update(c.data);
    t.bytes += c.data.length;
    t.chunks++;
  }
  return tallyDigests(tally);
}
