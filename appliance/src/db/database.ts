import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import postgres from 'postgres';
import { migrate } from './migrate.ts';
import { DatabaseUnreachableError, isDatabaseUnreachable } from './unavailable.ts';

export type Sql = postgres.Sql;

export interface Database {
  sql: Sql;
  /** `postgresql` for a real server, `pglite` for the embedded one. */
  kind: 'postgresql' | 'pglite';
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url?: string;
  /** Where the embedded PGlite keeps its files when no URL is given. */
  dataDir: string;
  /** Startup parameters, such as a search_path that keeps test runs apart. */
  connection?: Record<string, string>;
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Opens PostgreSQL through postgres.js. Without a URL it serves an embedded PGlite on a loopback port,
 * so the same driver and the same SQL run in development, in tests and in production.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const common = { onnotice: () => {}, connection: options.connection } as const;
  if (options.url) {
    const sql = postgres(options.url, { ...common, max: 10 });
    try {
      await migrate(sql);
    } catch (err) {
      // Ended, or the driver's reconnect timer would keep a relay that refused to start alive.
      await sql.end({ timeout: 1 }).catch(() => {});
      throw isDatabaseUnreachable(err) ? new DatabaseUnreachableError(options.url, err as Error) : err;
    }
    return { sql, kind: 'postgresql', close: () => sql.end({ timeout: 5 }) };
  }
  const dir = join(options.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const db = await PGlite.create(dir);
  const port = await freeLoopbackPort();
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: 8 });
  await server.start();
  const sql = postgres({
    ...common,
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database: 'postgres',
    // PGlite is one backend: pglite-socket queues messages, not whole Parse/Bind/Execute sequences, so two
    // connections interleave and clobber each other's unnamed portal ("portal does not exist"). One connection
    // pipelines every query in order.
    max: 1,
  });
  try {
    await migrate(sql);
  } catch (err) {
    await sql.end({ timeout: 1 });
    await server.stop();
    await db.close();
    throw err;
  }
  return {
    sql,
    kind: 'pglite',
    async close() {
      await sql.end({ timeout: 5 });
      await server.stop();
      await db.close();
    },
  };
}
