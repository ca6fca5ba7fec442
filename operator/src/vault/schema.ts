import type { BetterSqlite3 } from 'better-sqlite3';
import { VaultError } from './errors.ts';

/** 'DROP' — marks the file as ours, so a foreign SQLite database is refused rather than written into. */
export const APPLICATION_ID = 0x44524f50;
export const SCHEMA_VERSION = 3;

export const EVENT_TYPES = [
  'USER_MSG',
  'AI_MSG',
  'CMD_EXEC',
  'FILE_MUTATION',
  'APPROVAL',
  'DENIAL',
  'CONNECT',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const typeList = EVENT_TYPES.map((t) => `'${t}'`).join(',');
// The same constraint as `type IN (...)`, written as comparisons: SQLite builds an ephemeral table for an
// IN list on every statement run, which cost more than the rest of an insert (measured ~1.7x on appends).
const typeCheck = EVENT_TYPES.map((t) => `type = '${t}'`).join(' OR ');

// No secondary indexes: each one measured a large cut in batched append throughput (v3 dropped the last).
// Migrations run in order; index i brings user_version from i to i + 1. Each runs in one transaction.
const MIGRATIONS: string[] = [
  `
  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    operator_id TEXT NOT NULL,
    relay TEXT
  );
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    type TEXT NOT NULL CHECK (type IN (${typeList})),
    at TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE TABLE outputs (
    event_id TEXT NOT NULL REFERENCES events(id),
    stream TEXT NOT NULL CHECK (stream IN ('stdout','stderr')),
    chunk_seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (event_id, stream, chunk_seq)
  );
  `,
  // v2: the events table rebuilt with the type check as comparisons (SQLite cannot alter a CHECK in
  // place). Rows are copied as they are, hashes included, so the chain and its verification are unchanged.
  `
  CREATE TABLE events_v2 (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    type TEXT NOT NULL CHECK (${typeCheck}),
    at TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  INSERT INTO events_v2 SELECT seq, id, session_id, type, at, payload, prev_hash, hash FROM events;
  DROP TABLE events;
  ALTER TABLE events_v2 RENAME TO events;
  `,
  // v3: no UNIQUE(id) index and no foreign keys, the per-row work that cost batched appends most (~25%).
  // The vault checks both in code instead: ids come from eventId() and are unique by construction; an
  // event's session must exist (looked up once per batch), and an output's event must be a CMD_EXEC.
  // Tampering with either is still seen by verify, since every field is in the chain. outputs is rebuilt
  // because its foreign key needs a unique index on events(id). Rows and hashes are copied as they are.
  `
  CREATE TABLE events_v3 (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    type TEXT NOT NULL CHECK (${typeCheck}),
    at TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  INSERT INTO events_v3 SELECT seq, id, session_id, type, at, payload, prev_hash, hash FROM events;
  CREATE TABLE outputs_v3 (
    event_id TEXT NOT NULL,
    stream TEXT NOT NULL CHECK (stream IN ('stdout','stderr')),
    chunk_seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (event_id, stream, chunk_seq)
  );
  INSERT INTO outputs_v3 SELECT event_id, stream, chunk_seq, data FROM outputs;
  DROP TABLE outputs;
  DROP TABLE events;
  ALTER TABLE events_v3 RENAME TO events;
  ALTER TABLE outputs_v3 RENAME TO outputs;
  `,
];

const REQUIRED_TABLES = ['sessions', 'events', 'outputs'];

/** Reads the header fields without writing; throws VAULT_CORRUPT when the file is SQLite but not a vault. */
export function checkExisting(db: BetterSqlite3.Database, path: string): number {
  let appId: number;
  let version: number;
  let tables: string[];
  try {
    appId = db.pragma('application_id', { simple: true }) as number;
    version = db.pragma('user_version', { simple: true }) as number;
    tables = db
      .prepare<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .all()
      .map((r) => r.name);
  } catch (err) {
    throw new VaultError('VAULT_CORRUPT', `${path} cannot be read as SQLite (${(err as Error).message}).`);
  }
  if (appId !== APPLICATION_ID)
    throw new VaultError('VAULT_CORRUPT', `${path} is an SQLite database but not a DropOps audit vault.`);
  if (version < 1 || version > SCHEMA_VERSION)
    throw new VaultError(
      'VAULT_CORRUPT',
      `${path} has vault schema version ${version}, which this build does not know; open it with the dropops-operator release that wrote it, or a newer one.`,
    );
  for (const t of REQUIRED_TABLES)
    if (!tables.includes(t))
      throw new VaultError(
        'VAULT_CORRUPT',
        `${path} is missing the ${t} table, so it is not a usable vault.`,
      );
  return version;
}

/**
 * Creates or upgrades the schema; each step commits together with its user_version bump. Foreign keys are
 * off while it runs (SQLite's documented way to rebuild a table that others reference; the pragma cannot
 * change inside a transaction) and restored afterwards.
 */
export function migrate(db: BetterSqlite3.Database, from: number, to = SCHEMA_VERSION): void {
  if (from >= to) return;
  const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number;
  db.pragma('foreign_keys = OFF');
  try {
    for (let v = from; v < to; v++) {
      db.transaction(() => {
        db.exec(MIGRATIONS[v]!);
        if (v === 0) db.pragma(`application_id = ${APPLICATION_ID}`);
        db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  } finally {
    db.pragma(`foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`);
  }
}
