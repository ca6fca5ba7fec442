import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

export type Backend = 'pglite' | 'postgresql';

/**
 * The database backends every relay suite runs on: always the embedded PGlite, and the real PostgreSQL
 * when DATABASE_URL is set. With DROPOPS_REQUIRE_SERVICES=1 a missing URL fails the run instead of skipping.
 */
export function backends(): Backend[] {
  if (process.env.DATABASE_URL) return ['pglite', 'postgresql'];
  if (process.env.DROPOPS_REQUIRE_SERVICES === '1') {
    throw new Error(
      'DROPOPS_REQUIRE_SERVICES=1 but DATABASE_URL is not set; start PostgreSQL (scripts/services.sh) and set it.',
    );
  }
  return ['pglite'];
}

/**
 * Whether the machine's Redis (REDIS_URL) is there for the suites that need it. With
 * DROPOPS_REQUIRE_SERVICES=1 a missing URL fails the run instead of skipping.
 */
export function hasRedis(): boolean {
  if (process.env.REDIS_URL) return true;
  if (process.env.DROPOPS_REQUIRE_SERVICES === '1') {
    throw new Error(
      'DROPOPS_REQUIRE_SERVICES=1 but REDIS_URL is not set; start Redis (scripts/services.sh) and set it.',
    );
  }
  return false;
}

/** A schema of its own on the real server, so suites and runs never see each other's rows. */
export async function isolatedSchema(): Promise<{
  connection: Record<string, string>;
  drop: () => Promise<void>;
}> {
  const url = process.env.DATABASE_URL!;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE SCHEMA ${schema}`);
  await admin.end();
  return {
    connection: { search_path: schema },
    async drop() {
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await sql.end();
    },
  };
}

/** A database of a suite's own on the machine's PostgreSQL, for relay processes that get it by URL. */
export async function ownDatabase(
  prefix = 'dropops_replicas',
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const sql = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
      await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await sql.end();
    },
  };
}
