import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import {
  CreateOperatorRequest,
  ExecCommandRequest,
  HistoryQuery,
  type OperatorSlot,
} from '@dropops/protocol';
import { normaliseSerial, revokeSerials, type CertificateAuthority } from '@dropops/pki';
import Koa from 'koa';
import type { Logger } from 'pino';
import { enroll } from '../enrollment/enroll.ts';
import { RelayError } from '../errors.ts';
import type { ExecutionService } from '../executions/service.ts';
import type { ExecutionStore } from '../executions/store.ts';
import type { OperatorCertificates } from '../operators/certificates.ts';
import type { SlotRow, SlotStore } from '../operators/slots.ts';
import type { OperatorHub } from '../relay/operator-hub.ts';
import type { RevocationBus } from '../relay/revocation-bus.ts';
import type { ReplayGuard } from '../security/replay.ts';
import { parseInput } from '../validation.ts';
import { ADMIN_IDENTITY, requireAdmin } from './admin-auth.ts';

export interface AppDeps {
  ca: CertificateAuthority;
  slots: SlotStore;
  certificates: OperatorCertificates;
  replay: ReplayGuard;
  hub: OperatorHub;
  revocations: RevocationBus;
  executions: ExecutionService;
  executionStore: ExecutionStore;
  adminToken: string;
  log: Logger;
}

/** Every failure leaves as `{ error: { code, message } }` with a fitting status; stack traces stay in the log. */
function errors(log: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new RelayError('BAD_REQUEST', `no route ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      const relayError =
        err instanceof RelayError
          ? err
          : (err as { status?: number }).status === 413
            ? new RelayError('BAD_REQUEST', 'the request body is too large.')
            : (err as { status?: number }).status === 400
              ? new RelayError('BAD_REQUEST', 'the request body is not valid JSON.')
              : null;
      if (relayError) {
        log.warn(
          { code: relayError.code, method: ctx.method, path: ctx.path, remote: ctx.ip },
          relayError.message,
        );
        ctx.status = relayError.status === 500 ? 400 : relayError.status;
        ctx.body = { error: relayError.toWire() };
      } else {
        log.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
        ctx.status = 500;
        ctx.body = {
          error: { code: 'INTERNAL', message: 'the relay failed to handle this request; see its log.' },
        };
      }
    }
  };
}

export function slotView(row: SlotRow, connected: boolean): OperatorSlot {
  return {
    id: row.id,
    org: row.org,
    name: row.name,
    createdAt: row.created_at.toISOString(),
    fingerprint: row.fingerprint,
    keyState: row.api_key_hash ? 'active' : 'revoked',
    connected,
    lastSeenAt: row.last_seen_at?.toISOString() ?? null,
  };
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true;
  const router = new Router();
  const admin = requireAdmin(deps.adminToken);
  const view = (row: SlotRow) => slotView(row, deps.hub.isConnected(row.id));

  router.get('/healthz', (ctx) => {
    ctx.body = { ok: true };
  });

  router.post('/api/enroll', async (ctx) => {
    ctx.body = await enroll(ctx.request.body, deps);
    ctx.status = 201;
  });

  router.get('/api/operators', admin, async (ctx) => {
    ctx.body = { operators: (await deps.slots.list()).map(view) };
  });

  router.post('/api/operators', admin, async (ctx) => {
    const input = parseInput(CreateOperatorRequest, ctx.request.body, 'operator');
    const { slot, apiKey } = await deps.slots.create(input.org, input.name);
    ctx.status = 201;
    ctx.body = { operator: view(slot), apiKey };
  });

  router.post('/api/operators/:ref/refresh-key', admin, async (ctx) => {
    const slot = await deps.slots.find(ctx.params.ref!);
    const { apiKey, revokedSerials } = await deps.slots.refreshKey(slot.id);
    revokeSerials(deps.ca.dir, revokedSerials);
    await deps.revocations.cutOff({ operatorId: slot.id, serials: revokedSerials }, 'API key refreshed');
    ctx.body = { operator: view((await deps.slots.get(slot.id))!), apiKey };
  });

  router.post('/api/operators/:ref/revoke-key', admin, async (ctx) => {
    const slot = await deps.slots.find(ctx.params.ref!);
    const revokedSerials = await deps.slots.revokeKey(slot.id);
    revokeSerials(deps.ca.dir, revokedSerials);
    await deps.revocations.cutOff({ operatorId: slot.id, serials: revokedSerials }, 'API key revoked');
    ctx.body = { operator: view((await deps.slots.get(slot.id))!), revokedSerials };
  });

  router.post('/api/operators/:ref/stop', admin, async (ctx) => {
    const slot = await deps.slots.find(ctx.params.ref!);
    deps.hub.stop(slot.id);
    ctx.body = { stopping: slot.id };
  });

  router.post('/api/operators/:ref/ping', admin, async (ctx) => {
    const slot = await deps.slots.find(ctx.params.ref!);
    const started = process.hrtime.bigint();
    const facts = await deps.hub.facts(slot.id);
    ctx.body = { operator: view(slot), facts, roundTripMs: Number(process.hrtime.bigint() - started) / 1e6 };
  });

  router.post('/api/operators/:ref/exec', admin, async (ctx) => {
    const input = parseInput(ExecCommandRequest, ctx.request.body, 'command');
    const slot = await deps.slots.find(ctx.params.ref!);
    ctx.body = await deps.executions.exec({
      slot,
      command: input.command,
      timeoutMs: input.timeoutMs,
      requestedBy: ADMIN_IDENTITY,
      approver: input.approve ? ADMIN_IDENTITY : undefined,
    });
  });

  router.post('/api/operators/:ref/history', admin, async (ctx) => {
    const query = parseInput(HistoryQuery, ctx.request.body ?? {}, 'history query');
    const slot = await deps.slots.find(ctx.params.ref!);
    ctx.body = await deps.executions.history(slot, query);
  });

  router.get('/api/operators/:ref/executions', admin, async (ctx) => {
    const slot = await deps.slots.find(ctx.params.ref!);
    ctx.body = { executions: await deps.executionStore.list(slot.id) };
  });

  router.post('/api/executions/:id/cancel', admin, async (ctx) => {
    await deps.executions.cancel(ctx.params.id!);
    ctx.body = { cancelling: ctx.params.id };
  });

  router.post('/api/certificates/:serial/revoke', admin, async (ctx) => {
    let serial: string;
    try {
      serial = normaliseSerial(ctx.params.serial!);
    } catch {
      throw new RelayError('BAD_REQUEST', 'a serial number is hexadecimal.');
    }
    const operatorId = await deps.slots.revokeCertificate(serial);
    revokeSerials(deps.ca.dir, [serial]);
    // Cut by serial, not by operator: the operator may already hold a newer certificate.
    await deps.revocations.cutOff({ serials: [serial] }, 'certificate revoked');
    ctx.body = { revoked: serial, operatorId: operatorId ?? null };
  });

  app.use(errors(deps.log));
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8' }));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
