import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import {
  CreateBatchRequest,
  CreateOperatorRequest,
  ExecCommandRequest,
  HistoryQuery,
  RestoreFileRequest,
  WriteFileRequest,
  type OperatorSlot,
} from '@dropops/protocol';
import { normaliseSerial, revokeSerials, type CertificateAuthority } from '@dropops/pki';
import Koa from 'koa';
import type { Logger } from 'pino';
import { databaseUnavailable, isDatabaseUnreachable } from '../db/unavailable.ts';
import { enroll } from '../enrollment/enroll.ts';
import { RelayError } from '../errors.ts';
import type { ExecutionService } from '../executions/service.ts';
import type { ExecutionStore } from '../executions/store.ts';
import type { BatchService } from '../batches/service.ts';
import type { OperatorCertificates } from '../operators/certificates.ts';
import { refreshOperatorKey, revokeOperatorKey } from '../operators/key-actions.ts';
import type { SlotRow, SlotStore } from '../operators/slots.ts';
import type { OperatorHub } from '../relay/operator-hub.ts';
import type { RevocationBus } from '../relay/revocation-bus.ts';
import type { ReplayGuard } from '../security/replay.ts';
import { parseInput } from '../validation.ts';
import type { SignIn } from '../auth/sign-in.ts';
import { securityHeaders } from '../security/headers.ts';
import { limitPerAddress, type TokenBuckets } from '../security/rate-limit.ts';
import { ADMIN_IDENTITY, adminTokenCheck, requireAdmin } from './admin-auth.ts';

export interface AppDeps {
  ca: CertificateAuthority;
  slots: SlotStore;
  certificates: OperatorCertificates;
  replay: ReplayGuard;
  hub: OperatorHub;
  revocations: RevocationBus;
  executions: ExecutionService;
  executionStore: ExecutionStore;
  batches: BatchService;
  adminToken: string;
  log: Logger;
  /** Request metrics and in-flight counting (outermost), then /livez, /readyz and /metrics. */
  operations: { observe: Koa.Middleware[]; routes: ReturnType<Router['routes']> };
  /** Console sign-in (/auth, /oidc, /api/session); mounted before the JSON body parser. */
  signIn: Pick<SignIn, 'middleware'>;
  ipRateLimit: TokenBuckets;
  /** Further route sets mounted after the body parser (the console's conversations and approvals). */
  routes?: ReturnType<Router['routes']>[];
  /** The built web console, answering the GETs no route took (serveConsole). */
  consoleFiles?: Koa.Middleware;
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
              : isDatabaseUnreachable(err)
                ? databaseUnavailable()
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
    tags: row.tags ?? [],
  };
}

const WRITE_ROUTE = /^\/api\/operators\/[^/]+\/write$/;
// A 128 KiB file is 171 KiB of base64; the path and the JSON around it fit in the rest.
const WRITE_BODY = bodyParser({ enableTypes: ['json'], jsonLimit: '200kb', encoding: 'utf-8' });

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true;
  const router = new Router();
  const admin = requireAdmin(deps.adminToken);
  // `connected` means connected to any replica.
  const view = async (row: SlotRow) => slotView(row, (await deps.hub.connectedSlots([row.id])).has(row.id));

  router.get('/healthz', (ctx) => {
    ctx.body = { ok: true };
  });

  router.post('/api/enroll', async (ctx) => {
    ctx.body = await enroll(ctx.request.body, deps);
    ctx.status = 201;
  });

  router.get('/api/operators', admin, async (ctx) => {
    const [rows, connected] = await Promise.all([deps.slots.list(), deps.hub.connectedSlots()]);
    ctx.body = { operators: rows.map((row) => slotView(row, connected.has(row.id))) };
  });

  router.post('/api/operators', admin, async (ctx) => {
    const input = parseInput(CreateOperatorRequest, ctx.request.body, 'operator');
    const { slot, apiKey } = await deps.slots.create(input.org, input.name);
    ctx.status = 201;
    ctx.body = { operator: await view(slot), apiKey };
  });

  router.post('/api/operators/:ref/refresh-key', admin, async (ctx) => {
    const slot = await deps.slots.find(ctx.params.ref!);
    const { apiKey } = await refreshOperatorKey(deps, slot.id);
    ctx.body = { operator: await view((await deps.slots.get(slot.id))!), apiKey };
  });

  router.post('/api/operators/:ref/revoke-key', admin, async (ctx) => {
    const slot = await deps.slots.find(ctx.params.ref!);
    const revokedSerials = await revokeOperatorKey(deps, slot.id);
    ctx.body = { operator: await view((await deps.slots.get(slot.id))!), revokedSerials };
  });

  router.post('/api/operators/:ref/stop', admin, async (ctx) => {
    const slot = await deps.slots.find(ctx.params.ref!);
    await deps.hub.stop(slot.id);
    ctx.body = { stopping: slot.id };
  });

  router.post('/api/operators/:ref/ping', admin, async (ctx) => {
    const slot = await deps.slots.find(ctx.params.ref!);
    const started = process.hrtime.bigint();
    const facts = await deps.hub.facts(slot.id);
    ctx.body = {
      operator: await view(slot),
      facts,
      roundTripMs: Number(process.hrtime.bigint() - started) / 1e6,
    };
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

  // The file travels as base64 (its exact bytes, binary too), so this route alone reads a larger body, and
  // only once the admin check has passed. Who approves comes from the credential, as with exec --approve.
  router.post('/api/operators/:ref/write', admin, WRITE_BODY, async (ctx) => {
    const input = parseInput(WriteFileRequest, ctx.request.body, 'file write');
    const slot = await deps.slots.find(ctx.params.ref!);
    ctx.body = await deps.executions.write({
      slot,
      write: { path: input.path, content: input.content, expectedSha256: input.expectedSha256 },
      requestedBy: ADMIN_IDENTITY,
      approver: input.approve ? ADMIN_IDENTITY : undefined,
    });
  });

  // Restoring is a state change like a write: the host runs it only with the approval signed here.
  router.post('/api/operators/:ref/restore', admin, async (ctx) => {
    const input = parseInput(RestoreFileRequest, ctx.request.body, 'ledger restore');
    const slot = await deps.slots.find(ctx.params.ref!);
    ctx.body = await deps.executions.restore({
      slot,
      restore: { path: input.path, commit: input.commit },
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

  // One approval for several hosts: the admin token's holder is the approver, as with exec --approve.
  router.post('/api/batches', admin, async (ctx) => {
    const input = parseInput(CreateBatchRequest, ctx.request.body, 'batch');
    ctx.status = 202;
    ctx.body = { batch: await deps.batches.create(input, ADMIN_IDENTITY) };
  });

  router.get('/api/batches/:id', admin, async (ctx) => {
    ctx.body = { batch: await deps.batches.get(ctx.params.id!) };
  });

  router.post('/api/batches/:id/cancel', admin, async (ctx) => {
    ctx.body = { batch: await deps.batches.cancel(ctx.params.id!) };
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

  for (const observe of deps.operations.observe) app.use(observe);
  app.use(errors(deps.log));
  app.use(securityHeaders());
  app.use(deps.operations.routes);
  // Every request past the health probes spends from its address's bucket; the admin token holder owns the box.
  app.use(limitPerAddress(deps.ipRateLimit, adminTokenCheck(deps.adminToken)));
  for (const signIn of deps.signIn.middleware) app.use(signIn);
  const jsonBody = bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8' });
  app.use((ctx, next) => (WRITE_ROUTE.test(ctx.path) ? next() : jsonBody(ctx, next)));
  for (const routes of deps.routes ?? []) app.use(routes);
  app.use(router.routes());
  app.use(router.allowedMethods());
  if (deps.consoleFiles) app.use(deps.consoleFiles);
  return app;
}
