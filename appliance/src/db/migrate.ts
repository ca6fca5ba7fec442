import { readdirSync, readFileSync } from 'node:fs';
import type postgres from 'postgres';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
/** Replicas starting together take this lock so each migration runs exactly once. */
const MIGRATION_LOCK = 0x64726f70;

/** Applies the numbered SQL files in order, each in its own transaction, recording which have run. */
export async function migrate(sql: postgres.Sql): Promise<string[]> {
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort();
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    const done = new Set(
      (await tx<{ name: string }[]>`SELECT name FROM schema_migrations`).map((r) => r.name),
    );
    for (const file of files) {
      if (done.has(file)) continue;
      await tx.unsafe(readFileSync(new URL(file, MIGRATIONS_DIR), 'utf8'));
      await tx`INSERT INTO schema_migrations (name) VALUES (${file})`;
      applied.push(file);
    }
  });
  return applied;
}
