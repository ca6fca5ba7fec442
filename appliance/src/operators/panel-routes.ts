import Router from '@koa/router';
import {
  CreatePanelOperator,
  PanelHistoryQuery,
  type IssuedKey,
  type PanelOperator,
} from '@dropops/protocol';
import type { Context } from 'koa';
import type { AuditLog } from '../audit/log.ts';
import { principalOf } from '../console/principal.ts';
import type { Sql } from '../db/database.ts';
import { RelayError } from '../errors.ts';
import { slotView } from '../http/app.ts';
import type { ExecutionService } from '../executions/service.ts';
import type { OperatorHub } from '../relay/operator-hub.ts';
import { sessionOf, type SessionGuard } from '../sessions/guard.ts';
import { parseInput } from '../validation.ts';
import { refreshOperatorKey, revokeOperatorKey, type KeyActionDeps } from './key-actions.ts';
import type { SlotRow } from './slots.ts';

export interface PanelRouteDeps extends KeyActionDeps {
  sql: Sql;
  guard: SessionGuard;
  audit: AuditLog;
  hub: OperatorHub;
  executions: ExecutionService;
  /** The relay's URL and CA pin, known once it listens: what a host needs to enroll. */
  relay: () => { url: string; caPin: string };
}

type PanelRow = SlotRow & { newest_not_after: Date | null; conversation_id: string | null };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const notFound = (id: string) =>
  new RelayError('OPERATOR_NOT_FOUND', `no operator ${id} in your organisation; reload the operator panel.`);

function panelView(row: PanelRow, connected: boolean): PanelOperator {
  return {
    ...slotView(row, connected),
    certificateNotAfter: row.newest_not_after?.toISOString() ?? null,
    conversationId: row.conversation_id,
  };
}

/**
 * The operator panel's routes under /api/org/operators, for a signed-in person and only within their
 * organisation: any role lists slots and reads a host's own history; creating, re-keying, revoking and
 * stopping need `admin`. Another organisation's slot id reads as nonexistent.
 */
export function panelRoutes(deps: PanelRouteDeps): Router {
  const router = new Router();
  const member = deps.guard.requireSession();
  const admin = deps.guard.requireSession(['admin']);
  const org = (ctx: Context) => sessionOf(ctx).org;
  const audit = (ctx: Context, action: Parameters<AuditLog['record']>[1], slot: SlotRow) =>
    deps.audit.record(principalOf(sessionOf(ctx), ctx.ip), action, slot.id, { operator: slot.name });

  async function rows(orgName: string, id?: string): Promise<PanelRow[]> {
    return deps.sql<PanelRow[]>`
      SELECT s.*,
        (SELECT max(c.not_after) FROM operator_certificates c
          WHERE c.operator_id = s.id AND c.revoked_at IS NULL) AS newest_not_after,
        (SELECT b.conversation_id FROM conversation_operators b WHERE b.operator_id = s.id) AS conversation_id
      FROM operator_slots s
      WHERE s.org = ${orgName} AND (${id ?? null}::uuid IS NULL OR s.id = ${id ?? null}::uuid)
      ORDER BY s.name`;
  }

  /** The slot `ctx.params.id` names, if it is in the session's organisation. */
  async function slotOf(ctx: Context): Promise<PanelRow> {
    const id = String(ctx.params.id);
    const [row] = UUID.test(id) ? await rows(org(ctx), id) : [];
    if (!row) throw notFound(id);
    return row;
  }

  async function viewOf(orgName: string, id: string): Promise<PanelOperator> {
    const [row] = await rows(orgName, id);
    if (!row) throw notFound(id);
    return panelView(row, (await deps.hub.connectedSlots([id])).has(id));
  }

  function issued(operator: PanelOperator, apiKey: string): IssuedKey {
    const { url, caPin } = deps.relay();
    return {
      operator,
      apiKey,
      enrollCommand: `npx dropops-operator enroll --relay ${url} --api-key ${apiKey} --ca-pin ${caPin}`,
    };
  }

  router.get('/api/org/operators', member, async (ctx) => {
    const [list, connected] = await Promise.all([rows(org(ctx)), deps.hub.connectedSlots()]);
    ctx.body = { operators: list.map((row) => panelView(row, connected.has(row.id))) };
  });

  router.post('/api/org/operators', admin, async (ctx) => {
    const { name } = parseInput(CreatePanelOperator, ctx.request.body ?? {}, 'operator');
    const { slot, apiKey } = await deps.slots.create(org(ctx), name);
    await audit(ctx, 'operator.create', slot);
    ctx.status = 201;
    ctx.body = issued(await viewOf(slot.org, slot.id), apiKey);
  });

  router.post('/api/org/operators/:id/refresh-key', admin, async (ctx) => {
    const slot = await slotOf(ctx);
    const { apiKey } = await refreshOperatorKey(deps, slot.id);
    await audit(ctx, 'operator.refresh-key', slot);
    ctx.body = issued(await viewOf(slot.org, slot.id), apiKey);
  });

  router.post('/api/org/operators/:id/revoke-key', admin, async (ctx) => {
    const slot = await slotOf(ctx);
    await revokeOperatorKey(deps, slot.id);
    await audit(ctx, 'operator.revoke-key', slot);
    ctx.body = { operator: await viewOf(slot.org, slot.id) };
  });

  router.post('/api/org/operators/:id/stop', admin, async (ctx) => {
    const slot = await slotOf(ctx);
    await deps.hub.stop(slot.id);
    await audit(ctx, 'operator.stop', slot);
    ctx.body = { stopping: slot.id };
  });

  // Read live from the host's vault and passed through; the relay keeps none of it.
  router.post('/api/org/operators/:id/history', member, async (ctx) => {
    const { limit } = parseInput(PanelHistoryQuery, ctx.request.body ?? {}, 'history query');
    const slot = await slotOf(ctx);
    await audit(ctx, 'operator.history', slot);
    ctx.body = await deps.executions.history(slot, { limit });
  });

  return router;
}
