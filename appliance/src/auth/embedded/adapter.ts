import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Sql } from '../../db/database.ts';

interface Row {
  payload: AdapterPayload;
  consumed: number | null;
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/**
 * oidc-provider's storage for one model (Session, Interaction, Grant, AuthorizationCode, AccessToken…) in the
 * relay's database, so a sign-in survives a restart and any replica can finish it. Rows past their expiry
 * read as absent, as the adapter contract asks; `pruneProviderStore` deletes them.
 */
export class DatabaseAdapter implements Adapter {
  constructor(
    private readonly sql: Sql,
    private readonly model: string,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    // A row once consumed stays consumed, whatever the provider saves over it.
    await this.sql`
      INSERT INTO oidc_provider_store AS s (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at)
      VALUES (${this.model}, ${id}, ${this.sql.json(payload as never)}, ${text(payload.grantId)},
              ${text(payload.uid)}, ${text(payload.userCode)},
              now() + ${expiresIn ?? null}::float8 * interval '1 second',
              ${payload.consumed ? new Date() : null})
      ON CONFLICT (model, id) DO UPDATE SET
        payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
        user_code = excluded.user_code, expires_at = excluded.expires_at,
        consumed_at = COALESCE(s.consumed_at, excluded.consumed_at)`;
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return this.findWhere(this.sql`id = ${id}`);
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.findWhere(this.sql`uid = ${uid}`);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.findWhere(this.sql`user_code = ${userCode}`);
  }

  /**
   * Marks the row consumed; later finds carry `consumed` (epoch seconds). Only one caller can do so: when two
   * requests redeem the same code at once, both may have read it unconsumed, and the second is refused here
   * instead of getting tokens too.
   */
  async consume(id: string): Promise<void> {
    const marked = await this.sql`
      UPDATE oidc_provider_store SET consumed_at = now()
      WHERE model = ${this.model} AND id = ${id} AND consumed_at IS NULL
        AND (expires_at IS NULL OR expires_at > now())
      RETURNING 1`;
    if (marked.length === 0) throw new errors.InvalidGrant(`${this.model} already consumed or expired`);
  }

  async destroy(id: string): Promise<void> {
    await this.sql`DELETE FROM oidc_provider_store WHERE model = ${this.model} AND id = ${id}`;
  }

  /** The provider calls this on each token model of a grant (and destroys the Grant itself). */
  async revokeByGrantId(grantId: string): Promise<void> {
    await this.sql`DELETE FROM oidc_provider_store WHERE model = ${this.model} AND grant_id = ${grantId}`;
  }

  private async findWhere(condition: ReturnType<Sql>): Promise<AdapterPayload | undefined> {
    const [row] = await this.sql<Row[]>`
      SELECT payload, floor(extract(epoch FROM consumed_at))::int AS consumed
      FROM oidc_provider_store
      WHERE model = ${this.model} AND ${condition} AND (expires_at IS NULL OR expires_at > now())
      LIMIT 1`;
    if (!row) return undefined;
    return row.consumed === null ? row.payload : { ...row.payload, consumed: row.consumed };
  }
}

/** The provider's adapter factory over this database. */
export const databaseAdapter = (sql: Sql) => (model: string) => new DatabaseAdapter(sql, model);

/** Deletes the provider's expired rows; the `cleanup` job runs it. */
export async function pruneProviderStore(sql: Sql): Promise<number> {
  const removed = await sql`DELETE FROM oidc_provider_store WHERE expires_at < now()`;
  return removed.count;
}
