import type { AuditAction } from '@dropops/protocol';
import type { Sql } from '../db/database.ts';
import type { Principal } from '../console/principal.ts';
import { personKey } from '../console/principal.ts';

export type { AuditAction } from '@dropops/protocol';

export interface AuditRow {
  id: string;
  at: Date;
  org: string;
  actor: string;
  actor_name: string;
  ip: string | null;
  action: AuditAction;
  subject: string | null;
  details: Record<string, unknown>;
}

export interface AuditFilter {
  subject?: string;
  action?: string;
  /** Part of the actor's display name, case-insensitive. */
  actor?: string;
  since?: string;
  until?: string;
  limit?: number;
}

/** The appliance's own audit trail (who, what, when, from where); metadata only, never command output. */
export class AuditLog {
  constructor(private readonly sql: Sql) {}

  async record(
    actor: Principal,
    action: AuditAction,
    subject: string | null,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    await this.sql`
      INSERT INTO audit_events (org, actor, actor_name, ip, action, subject, details)
      VALUES (${actor.org}, ${personKey(actor)}, ${actor.name}, ${actor.ip}, ${action}, ${subject},
              ${this.sql.json(details as never)})`;
  }

  /** The newest `limit` events of `org` that match every filter given, oldest first. */
  async list(org: string, filter: AuditFilter = {}): Promise<AuditRow[]> {
    const limit = Math.min(filter.limit ?? 100, 10_000);
    const actor = filter.actor ? `%${filter.actor.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
    return this.sql<AuditRow[]>`
      SELECT * FROM (
        SELECT * FROM audit_events
        WHERE org = ${org}
          AND (${filter.subject ?? null}::text IS NULL OR subject = ${filter.subject ?? null})
          AND (${filter.action ?? null}::text IS NULL OR action = ${filter.action ?? null})
          AND (${actor}::text IS NULL OR actor_name ILIKE ${actor})
          AND (${filter.since ?? null}::timestamptz IS NULL OR at >= ${filter.since ?? null}::timestamptz)
          AND (${filter.until ?? null}::timestamptz IS NULL OR at <= ${filter.until ?? null}::timestamptz)
        ORDER BY id DESC LIMIT ${limit}
      ) newest ORDER BY id`;
  }
}
