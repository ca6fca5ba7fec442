import type { Sql } from '../db/database.ts';
import { RelayError } from '../errors.ts';
import type { SlotRow } from '../operators/slots.ts';
import type { Principal } from '../console/principal.ts';

export interface ConversationRow {
  id: string;
  org: string;
  owner_issuer: string;
  owner_id: string;
  owner_name: string;
  created_at: Date;
  ended_at: Date | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const conversationNotFound = (id: string) =>
  new RelayError('CONVERSATION_NOT_FOUND', `no conversation ${id} in your organisation; start one.`);

const operatorNotFound = (ref: string) =>
  new RelayError(
    'OPERATOR_NOT_FOUND',
    `no operator ${ref} in your organisation; the operator panel lists them.`,
  );

/**
 * What the database keeps of conversations: who started one, in which organisation, which operators work for
 * it (one conversation per operator, by primary key) and which runs it started. Never a message.
 */
export class ConversationStore {
  constructor(private readonly sql: Sql) {}

  async create(id: string, owner: Principal): Promise<ConversationRow> {
    const [row] = await this.sql<ConversationRow[]>`
      INSERT INTO conversations (id, org, owner_issuer, owner_id, owner_name)
      VALUES (${id}, ${owner.org}, ${owner.issuer}, ${owner.userId}, ${owner.name}) RETURNING *`;
    return row!;
  }

  /** The conversation if it belongs to `org`; another organisation's id reads as nonexistent. */
  async get(id: string, org: string): Promise<ConversationRow> {
    const [row] = UUID.test(id)
      ? await this.sql<ConversationRow[]>`SELECT * FROM conversations WHERE id = ${id} AND org = ${org}`
      : [];
    if (!row) throw conversationNotFound(id);
    return row;
  }

  async end(id: string): Promise<void> {
    await this.sql.begin(async (tx) => {
      await tx`DELETE FROM conversation_operators WHERE conversation_id = ${id}`;
      await tx`UPDATE conversations SET ended_at = coalesce(ended_at, now()) WHERE id = ${id}`;
    });
  }

  /** Slots of `org` by id, in the order given; one that is not there (or another org's) is OPERATOR_NOT_FOUND. */
  async slotsOf(org: string, ids: readonly string[]): Promise<SlotRow[]> {
    const bad = ids.find((id) => !UUID.test(id));
    if (bad) throw operatorNotFound(bad);
    const rows = await this.sql<SlotRow[]>`
      SELECT * FROM operator_slots WHERE org = ${org} AND id = ANY (${ids as string[]}::uuid[])`;
    return ids.map((id) => rows.find((r) => r.id === id) ?? throwNotFound(id));
  }

  /**
   * Binds operators to the conversation, all or none. One already working for another conversation is
   * OPERATOR_BOUND; one bound to this conversation already stays bound.
   */
  async bind(conversationId: string, slots: SlotRow[]): Promise<void> {
    await this.sql.begin(async (tx) => {
      for (const slot of slots) {
        const [row] = await tx<{ conversation_id: string }[]>`
          INSERT INTO conversation_operators (operator_id, conversation_id) VALUES (${slot.id}, ${conversationId})
          ON CONFLICT (operator_id) DO UPDATE SET operator_id = excluded.operator_id
          RETURNING conversation_id`;
        if (row!.conversation_id !== conversationId)
          throw new RelayError(
            'OPERATOR_BOUND',
            `${slot.name} is working for another conversation; unbind it there (or end that conversation) first.`,
          );
      }
    });
  }

  async unbind(conversationId: string, operatorIds: string[]): Promise<void> {
    await this.sql`
      DELETE FROM conversation_operators
      WHERE conversation_id = ${conversationId} AND operator_id = ANY (${operatorIds}::uuid[])`;
  }

  /** The operators bound to the conversation, by name. */
  async bound(conversationId: string): Promise<SlotRow[]> {
    return this.sql<SlotRow[]>`
      SELECT s.* FROM conversation_operators b JOIN operator_slots s ON s.id = b.operator_id
      WHERE b.conversation_id = ${conversationId} ORDER BY s.name`;
  }

  async recordExecution(conversationId: string, executionId: string): Promise<void> {
    await this.sql`
      INSERT INTO conversation_executions (execution_id, conversation_id) VALUES (${executionId}, ${conversationId})
      ON CONFLICT DO NOTHING`;
  }
}

function throwNotFound(id: string): never {
  throw operatorNotFound(id);
}
