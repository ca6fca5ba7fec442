import Router from '@koa/router';
import { AuditQuery, type AuditEventView } from '@dropops/protocol';
import type { Context } from 'koa';
import { sessionOf, type SessionGuard } from '../sessions/guard.ts';
import { parseInput } from '../validation.ts';
import type { AuditLog, AuditRow } from './log.ts';

const view = (row: AuditRow): AuditEventView => ({
  id: String(row.id),
  at: row.at.toISOString(),
  actor: row.actor,
  actorName: row.actor_name,
  ip: row.ip,
  action: row.action,
  subject: row.subject,
  details: row.details,
});

/**
 * The audit view's routes: the session's organisation's events, filtered (`GET /api/org/audit`), and the
 * same selection as a JSON Lines download (`GET /api/org/audit/export`). Any role may read them.
 */
export function auditRoutes(deps: { guard: SessionGuard; audit: AuditLog }): Router {
  const router = new Router();
  const member = deps.guard.requireSession();
  const select = async (ctx: Context) => {
    const filter = parseInput(AuditQuery, ctx.query, 'audit filter');
    return (await deps.audit.list(sessionOf(ctx).org, filter)).map(view);
  };

  router.get('/api/org/audit', member, async (ctx) => {
    ctx.body = { events: await select(ctx) };
  });

  router.get('/api/org/audit/export', member, async (ctx) => {
    const events = await select(ctx);
    ctx.attachment(`dropops-audit-${sessionOf(ctx).org}.jsonl`);
    ctx.type = 'application/jsonl; charset=utf-8';
    ctx.body = events.map((event) => JSON.stringify(event) + '\n').join('');
  });

  return router;
}
