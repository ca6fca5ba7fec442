import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import type { Sql } from '../db/database.ts';
import { RelayError } from '../errors.ts';
import { hashApiKey, newApiKey } from './api-keys.ts';

export interface SlotRow {
  id: string;
  org: string;
  name: string;
  api_key_hash: string | null;
  fingerprint: string | null;
  created_at: Date;
  last_seen_at: Date | null;
  /** The operator's last reported vault chain head (002_executions.sql). */
  witness_seq: string | null;
  witness_hash: string | null;
  /** What approval policies key on (005_conversations.sql). */
  tags: string[];
}

/** Operator slots: one per server, holding the hash of its one API key and the host it is bound to. */
export class SlotStore {
  constructor(private readonly sql: Sql) {}

  async create(org: string, name: string): Promise<{ slot: SlotRow; apiKey: string }> {
    const id = randomUUID();
    const apiKey = newApiKey(id);
    const hash = await hashApiKey(apiKey);
    const rows = await this.sql<SlotRow[]>`
      INSERT INTO operator_slots (id, org, name, api_key_hash) VALUES (${id}, ${org}, ${name}, ${hash})
      ON CONFLICT (org, name) DO NOTHING RETURNING *`;
    if (rows.length === 0) {
      throw new RelayError(
        'ALREADY_EXISTS',
        `an operator named "${name}" already exists in org "${org}"; pick another name.`,
      );
    }
    return { slot: rows[0]!, apiKey };
  }

  async list(org?: string): Promise<SlotRow[]> {
    return org
      ? this.sql<SlotRow[]>`SELECT * FROM operator_slots WHERE org = ${org} ORDER BY org, name`
      : this.sql<SlotRow[]>`SELECT * FROM operator_slots ORDER BY org, name`;
  }

  async get(id: string): Promise<SlotRow | undefined> {
    if (!/^[0-9a-f-]{36}$/.test(id)) return undefined;
    return (await this.sql<SlotRow[]>`SELECT * FROM operator_slots WHERE id = ${id}`)[0];
  }

  /** Finds a slot by id, or by name when the name is unique across orgs (or qualified as org/name). */
  async find(ref: string): Promise<SlotRow> {
    const byId = await this.get(ref);
    if (byId) return byId;
    const [org, name] = ref.includes('/') ? ref.split('/', 2) : [undefined, ref];
    const rows = org
      ? await this.sql<SlotRow[]>`SELECT * FROM operator_slots WHERE org = ${org} AND name = ${name!}`
      : await this.sql<SlotRow[]>`SELECT * FROM operator_slots WHERE name = ${name!}`;
    if (rows.length === 1) return rows[0]!;
    if (rows.length > 1) {
      throw new RelayError('BAD_REQUEST', `"${ref}" names operators in several orgs; write it as org/name.`);
    }
    throw new RelayError(
      'OPERATOR_NOT_FOUND',
      `no operator "${ref}"; \`dropops-appliance operator list\` shows them.`,
    );
  }

  /**
   * Issues a new key and forgets the host binding, so the slot can be enrolled again (on this host or a
   * new one). Every certificate issued under the old key is revoked.
   */
  async refreshKey(id: string): Promise<{ apiKey: string; revokedSerials: string[] }> {
    const apiKey = newApiKey(id);
    const hash = await hashApiKey(apiKey);
    const revokedSerials = await this.sql.begin(async (tx) => {
      await tx`UPDATE operator_slots SET api_key_hash = ${hash}, fingerprint = NULL WHERE id = ${id}`;
      return revokeCertificatesOf(tx, id);
    });
    return { apiKey, revokedSerials };
  }

  /** Removes the key and revokes the slot's certificates: the operator is cut off until a refresh-key. */
  async revokeKey(id: string): Promise<string[]> {
    return this.sql.begin(async (tx) => {
      await tx`UPDATE operator_slots SET api_key_hash = NULL WHERE id = ${id}`;
      return revokeCertificatesOf(tx, id);
    });
  }

  /** Binds the slot to a host on first enrollment; returns false when it is already bound to another. */
  async bindFingerprint(id: string, fingerprint: string): Promise<boolean> {
    const rows = await this.sql`
      UPDATE operator_slots SET fingerprint = ${fingerprint}
      WHERE id = ${id} AND (fingerprint IS NULL OR fingerprint = ${fingerprint}) RETURNING id`;
    return rows.length === 1;
  }

  async recordCertificate(id: string, serial: string, fingerprint: string, notAfter: Date): Promise<void> {
    await this.sql`
      INSERT INTO operator_certificates (serial, operator_id, fingerprint, not_after)
      VALUES (${serial}, ${id}, ${fingerprint}, ${notAfter})`;
  }

  async certificate(serial: string) {
    const rows = await this.sql<{ operator_id: string; fingerprint: string; revoked_at: Date | null }[]>`
      SELECT operator_id, fingerprint, revoked_at FROM operator_certificates WHERE serial = ${serial}`;
    return rows[0];
  }

  async revokeCertificate(serial: string): Promise<string | undefined> {
    const rows = await this.sql<{ operator_id: string }[]>`
      UPDATE operator_certificates SET revoked_at = coalesce(revoked_at, now()) WHERE serial = ${serial}
      RETURNING operator_id`;
    return rows[0]?.operator_id;
  }

  /** Replaces the slot's tags; approval policies apply to proposals made after the change. */
  async setTags(id: string, tags: string[]): Promise<SlotRow> {
    const [row] = await this.sql<SlotRow[]>`
      UPDATE operator_slots SET tags = ${[...new Set(tags)].sort()}::text[] WHERE id = ${id} RETURNING *`;
    if (!row) throw new RelayError('OPERATOR_NOT_FOUND', `no operator ${id}.`);
    return row;
  }

  async touch(id: string): Promise<void> {
    await this.sql`UPDATE operator_slots SET last_seen_at = now() WHERE id = ${id}`;
  }
}

async function revokeCertificatesOf(tx: postgres.TransactionSql, id: string): Promise<string[]> {
  const rows = await tx<{ serial: string }[]>`
    UPDATE operator_certificates SET revoked_at = now() WHERE operator_id = ${id} AND revoked_at IS NULL
    RETURNING serial`;
  return rows.map((r) => r.serial);
}
