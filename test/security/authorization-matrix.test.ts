import {
  ConsoleClientEvents,
  CSRF_HEADER,
  OPERATOR_NAMESPACE,
  OperatorEvents,
  type ConversationView,
  type ProposalView,
} from '@dropops/protocol';
import { parseRelayUrl, pinnedTlsOptions, readEnrollment } from '@dropops/operator';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINDING_COOKIE, SESSION_COOKIE } from '../../appliance/src/sessions/cookies.ts';
import { sha256 } from '../../appliance/src/security/secrets.ts';
import { eventually, startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { newBrowser, openLoginPage, originOf, signIn, signedInUser } from '../support/sign-in-flow.ts';
import { formOf } from '../support/browser.ts';
import {
  consoleSocket,
  relayRequests,
  relayRoot,
  type Ack,
  type ConsoleUser,
} from '../support/console-user.ts';
import { backends } from '../support/services.ts';
import { CONSOLE_EVENTS, missingIds, OPERATOR_EVENTS, ROUTES, type Ids, type RouteRule } from './rules.ts';
import { twoOrgs, type Org, type TwoOrgs } from './two-orgs.ts';

const FOREIGN_ORIGIN = 'https://attacker.example';
const routeOf = (key: string) => {
  const space = key.indexOf(' ');
  return { method: key.slice(0, space), rule: ROUTES[key]! };
};
const sessionRoutes = () =>
  Object.keys(ROUTES)
    .filter((key) => ROUTES[key]!.access.kind === 'session')
    .map((key) => ({ key, ...routeOf(key) }));
const roleRules = (key: string) => {
  const access = ROUTES[key]!.access;
  return access.kind === 'session' ? access : undefined;
};

/** An answer with the ids it was asked about written as their kind, so two answers compare as text. */
function normalised(answer: unknown, ids: Ids): string {
  let text = JSON.stringify(answer);
  for (const [kind, id] of Object.entries(ids)) text = text.split(id).join(`<${kind}>`);
  return text;
}

describe.each(backends())(
  'authorization matrix on %s',
  (backend) => {
    let relay: TestAppliance;
    let orgs: TwoOrgs;
    let anonymous: ReturnType<typeof relayRequests>;
    let adminToken: ReturnType<typeof relayRequests>;
    /** Every event org B's sockets received, to show that nothing of org A reached them. */
    const seenByB: unknown[] = [];
    const bSockets: Socket[] = [];

    const idsOf = (org: Org): Ids => ({
      operator: org.operator.id,
      conversation: org.conversation,
      proposal: org.proposal,
      batch: org.batch,
    });
    /** What of org A must never show in an answer to anyone outside it. */
    const secretsOfA = () => [
      ...Object.values(idsOf(orgs.a)),
      orgs.a.approvedProposal,
      orgs.a.certOnly.id,
      'a-web',
      'alice',
      'vera',
    ];
    const expectNoLeak = (what: string, text: string) => {
      for (const secret of secretsOfA()) expect(text, `${what} shows ${secret}`).not.toContain(secret);
    };

    const send = (user: ConsoleUser, key: string, ids: Ids, changes?: Record<string, string | undefined>) => {
      const { method, rule } = routeOf(key);
      return user.api(method, rule.path(ids), method === 'GET' ? undefined : rule.body?.(ids), changes);
    };

    /** Org A's state as its own people see it; `withAudit` adds the audit trail's length. */
    async function stateOfA(withAudit = true) {
      const { a } = orgs;
      const conversation = (
        await a.approver.user.api<ConversationView>('GET', `/api/conversations/${a.conversation}`)
      ).body;
      const proposals = (
        await a.approver.user.api<{ proposals: ProposalView[] }>(
          'GET',
          `/api/conversations/${a.conversation}/proposals`,
        )
      ).body.proposals;
      const operators = (
        await a.admin.user.api<{ operators: Record<string, unknown>[] }>('GET', '/api/org/operators')
      ).body.operators;
      const audit = (await a.admin.user.api<{ events: unknown[] }>('GET', '/api/org/audit')).body.events;
      const batch = await relay.admin.call<{ batch: { state: string } }>('GET', `/api/batches/${a.batch}`);
      return {
        conversation: {
          state: conversation.state,
          operatorIds: conversation.operatorIds,
          events: conversation.events.length,
        },
        proposals: proposals.map((p) => ({ id: p.id, state: p.state, approvals: p.approvals.length })),
        operators: operators.map(({ id, keyState, fingerprint, connected, tags, conversationId }) => ({
          id,
          keyState,
          fingerprint,
          connected,
          tags,
          conversationId,
        })),
        audit: withAudit ? audit.length : undefined,
        batch: batch.batch.state,
      };
    }

    beforeAll(async () => {
      relay = await startTestAppliance(backend, { llm: 'none' });
      orgs = await twoOrgs(relay);
      anonymous = relayRequests(relay, { origin: new URL(relay.url).origin });
      adminToken = relayRequests(relay, { authorization: `Bearer ${relay.adminToken}` });
      for (const person of [orgs.b.admin, orgs.b.approver]) {
        const socket = await person.user.socket();
        socket.onAny((event, payload) => seenByB.push({ event, payload }));
        bSockets.push(socket);
      }
    }, 300_000);
    afterAll(async () => {
      await anonymous?.close();
      await adminToken?.close();
      await orgs?.close();
      await relay?.stop();
    });

    it('holds every route the relay serves and every socket event to a written rule', () => {
      const served = relay.routes.map((route) => `${route.method} ${route.path}`);
      for (const key of served) expect(ROUTES[key], `route ${key} has no authorization case`).toBeDefined();
      for (const key of Object.keys(ROUTES))
        expect(served, `the rule for ${key} names no served route`).toContain(key);
      for (const event of Object.keys(ConsoleClientEvents))
        expect(CONSOLE_EVENTS, `event ${event} has no authorization case`).toHaveProperty([event]);
      expect(Object.keys(CONSOLE_EVENTS).sort()).toEqual(Object.keys(ConsoleClientEvents).sort());
      for (const event of Object.values(OperatorEvents))
        expect(OPERATOR_EVENTS, `event ${event} has no authorization case`).toHaveProperty([event]);
      expect(Object.keys(OPERATOR_EVENTS).sort()).toEqual(Object.values(OperatorEvents).sort());
    });

    it('answers nothing of an organisation without a session or token', async () => {
      const before = await stateOfA();
      const ids = idsOf(orgs.a);
      for (const [key, rule] of Object.entries(ROUTES) as [string, RouteRule][]) {
        const { method } = routeOf(key);
        const answer = await anonymous.send(
          method,
          rule.path(ids),
          method === 'GET' ? undefined : rule.body?.(ids),
        );
        const seen = [key, answer.status, answer.body.error?.code];
        expectNoLeak(key, JSON.stringify(answer.body));
        switch (rule.access.kind) {
          case 'session':
          case 'admin-token':
          case 'metrics-token':
            expect(seen).toEqual([key, 401, 'UNAUTHENTICATED']);
            break;
          case 'api-key':
            expect(seen).toEqual([key, 400, 'BAD_REQUEST']);
            break;
          case 'sign-in':
            expect(answer.status, key).toBeGreaterThanOrEqual(400);
            expect(answer.status, key).toBeLessThan(500);
            break;
          case 'public':
            expect(answer.status, key).toBeLessThan(400);
            break;
        }
      }
      expect(await stateOfA()).toEqual(before);
    });

    it("answers org B's sessions for org A's ids exactly as for ids that exist nowhere, and changes nothing", async () => {
      const { a, b } = orgs;
      const before = await stateOfA();
      for (const { key, rule } of sessionRoutes()) {
        const access = roleRules(key)!;
        if (access.endsSession) continue;
        // The strongest role org B has that the route allows: its administrator for admin-only routes.
        const actor = access.roles?.length === 1 ? b.admin.user : b.approver.user;
        const ids = idsOf(a);
        const missing = missingIds();
        const foreign = await send(actor, key, ids);
        const nowhere = await send(actor, key, missing);
        if (access.notFound) {
          expect([key, foreign.status, foreign.body.error?.code]).toEqual([key, 404, access.notFound]);
          expect(normalised(foreign, ids), key).toBe(normalised(nowhere, missing));
        } else {
          expectNoLeak(key, normalised(foreign.body, ids));
        }
        // Org B's own conversation with org A's operator: as with an operator that does not exist.
        if (JSON.stringify(rule.body?.(ids) ?? {}).includes(ids.operator)) {
          const own = { ...idsOf(b), operator: a.operator.id };
          const stranger = { ...idsOf(b), operator: missing.operator };
          const withA = await send(b.approver.user, key, own);
          const withNobody = await send(b.approver.user, key, stranger);
          expect(withA.status, `${key} with org A's operator`).toBeGreaterThanOrEqual(400);
          expect(normalised(withA, own), key).toBe(normalised(withNobody, stranger));
        }
      }
      expect(await stateOfA()).toEqual(before);
    });

    it('refuses a viewer what needs an approver, and anyone but an admin what needs one (403)', async () => {
      const { a } = orgs;
      const before = await stateOfA(false);
      for (const { key } of sessionRoutes()) {
        const roles = roleRules(key)!.roles;
        if (!roles) continue;
        for (const person of [a.viewer, a.approver, a.admin]) {
          const role = person === a.viewer ? 'viewer' : person === a.approver ? 'approver' : 'admin';
          if (roles.includes(role)) continue;
          const answer = await send(person.user, key, idsOf(a));
          expect([key, role, answer.status, answer.body.error?.code]).toEqual([key, role, 403, 'FORBIDDEN']);
        }
      }
      expect(await stateOfA(false)).toEqual(before);
    });

    it('refuses every state-changing session route without its CSRF token or from another Origin (403)', async () => {
      const { a } = orgs;
      const before = await stateOfA();
      const forgeries = [
        { [CSRF_HEADER]: undefined },
        { [CSRF_HEADER]: 'not-the-token' },
        { origin: FOREIGN_ORIGIN },
        { origin: undefined },
      ];
      for (const { key, method } of sessionRoutes()) {
        if (method === 'GET') continue;
        for (const changes of forgeries) {
          const answer = await send(a.approver.user, key, idsOf(a), changes);
          expect([key, changes, answer.status, answer.body.error?.code]).toEqual([
            key,
            changes,
            403,
            'CSRF_REJECTED',
          ]);
        }
      }
      // The logout attempts above left the session alive.
      expect((await a.approver.user.api('GET', '/api/session')).status).toBe(200);
      // The embedded provider's password form, posted from another site into a real pending sign-in.
      const browser = newBrowser(relay.dataDir);
      try {
        const login = await openLoginPage(browser, relay.url);
        const form = formOf(login);
        const posted = await browser.go(form.action, {
          form: { ...form.fields, username: a.approver.username, password: a.approver.password },
          headers: { origin: FOREIGN_ORIGIN },
        });
        expect([posted.status, posted.json<{ error: { code: string } }>().error.code]).toEqual([
          403,
          'CSRF_REJECTED',
        ]);
      } finally {
        await browser.close();
      }
      expect(await stateOfA()).toEqual(before);
    });

    it('keeps the admin token and sessions apart, and the metrics token apart from both', async () => {
      const { a } = orgs;
      const before = await stateOfA();
      const ids = idsOf(a);
      for (const [key, rule] of Object.entries(ROUTES) as [string, RouteRule][]) {
        const { method } = routeOf(key);
        if (rule.access.kind === 'session') {
          const answer = await adminToken.send(
            method,
            rule.path(ids),
            method === 'GET' ? undefined : rule.body?.(ids),
          );
          expect([key, answer.status, answer.body.error?.code]).toEqual([key, 401, 'UNAUTHENTICATED']);
        }
        if (rule.access.kind === 'admin-token' || rule.access.kind === 'metrics-token') {
          const answer = await send(a.admin.user, key, ids);
          expect([key, answer.status, answer.body.error?.code]).toEqual([key, 401, 'UNAUTHENTICATED']);
        }
      }
      const metrics = await adminToken.send('GET', '/metrics');
      expect([metrics.status, metrics.body.error?.code]).toEqual([401, 'UNAUTHENTICATED']);
      expect(await stateOfA()).toEqual(before);
    });

    it('refuses the console namespace and every event without a live session', async () => {
      const { a } = orgs;
      const refusal = (headers: Record<string, string>) =>
        consoleSocket(relay, headers).then(
          (socket) => {
            socket.close();
            return 'connected';
          },
          (err: Error & { data?: { code: string } }) => err.data?.code,
        );
      const origin = new URL(relay.url).origin;
      expect(await refusal({ origin })).toBe('UNAUTHENTICATED');
      expect(await refusal({ origin, authorization: `Bearer ${relay.adminToken}` })).toBe('UNAUTHENTICATED');
      const cookie = a.approver.browser.jar.map((c) => `${c.name}=${c.value}`).join('; ');
      expect(
        await refusal({ cookie, 'user-agent': a.approver.browser.userAgent, origin: FOREIGN_ORIGIN }),
      ).toBe('CSRF_REJECTED');
      expect(await refusal({ cookie, 'user-agent': a.approver.browser.userAgent })).toBe('CSRF_REJECTED');

      // Signing out cuts the session's sockets off, and the same cookies are refused at the handshake.
      {
        const browser = newBrowser(relay.dataDir);
        await signIn(browser, relay.url, a.viewer.username, a.viewer.password);
        const user = await signedInUser(browser, relay);
        const socket = await user.socket();
        const csrf = (await user.api<{ csrfToken: string }>('GET', '/api/session')).body.csrfToken;
        const out = await browser.go(`${relay.url}/auth/logout`, {
          method: 'POST',
          headers: { ...originOf(relay.url), [CSRF_HEADER]: csrf, accept: 'application/json' },
        });
        expect(out.status).toBe(200);
        await eventually(() => !socket.connected, 'the signed-out socket to be cut off');
        const stale = `${SESSION_COOKIE}=${browser.cookie(SESSION_COOKIE)}; ${BINDING_COOKIE}=${browser.cookie(BINDING_COOKIE)}`;
        expect(await refusal({ cookie: stale, 'user-agent': browser.userAgent, origin })).toBe(
          'UNAUTHENTICATED',
        );
        await user.close();
        await browser.close();
      }

      // A session that expired while its socket stayed open: each event is refused, and the socket cut off.
      for (const [event, rule] of Object.entries(CONSOLE_EVENTS)) {
        const browser = newBrowser(relay.dataDir);
        await signIn(browser, relay.url, a.viewer.username, a.viewer.password);
        const user = await signedInUser(browser, relay);
        try {
          const socket = await user.socket();
          await relay.db.sql`
            UPDATE console_sessions SET last_seen_at = now() - interval '2 days'
            WHERE id_hash = ${sha256(browser.cookie(SESSION_COOKIE)!)}`;
          const answer = await user.emit(socket, event, rule.payload(idsOf(a)));
          expectNoLeak(event, JSON.stringify(answer));
          expect([event, answer.ok, answer.error?.code]).toEqual([event, false, 'UNAUTHENTICATED']);
          await eventually(() => !socket.connected, `the socket to be cut off after ${event}`);
        } finally {
          await user.close();
          await browser.close();
        }
      }
    });

    it("answers org B's console events for org A's ids exactly as for ids that exist nowhere", async () => {
      const { a, b } = orgs;
      const before = await stateOfA();
      const actor = b.approver.user;
      const socket = bSockets[1]!;
      for (const [event, rule] of Object.entries(CONSOLE_EVENTS)) {
        const ids = idsOf(a);
        const missing = missingIds();
        const foreign = await actor.emit(socket, event, rule.payload(ids));
        const nowhere = await actor.emit(socket, event, rule.payload(missing));
        if (rule.notFound) {
          expect([event, foreign.ok, foreign.error?.code]).toEqual([event, false, rule.notFound]);
          expect(normalised(foreign, ids), event).toBe(normalised(nowhere, missing));
        } else {
          expectNoLeak(event, normalised(foreign, ids));
        }
        if (JSON.stringify(rule.payload(ids)).includes(ids.operator)) {
          const own = { ...idsOf(b), operator: a.operator.id };
          const stranger = { ...idsOf(b), operator: missing.operator };
          const withA = await actor.emit(socket, event, rule.payload(own));
          const withNobody = await actor.emit(socket, event, rule.payload(stranger));
          expect(withA.ok, `${event} with org A's operator`).toBe(false);
          expect(normalised(withA, own), event).toBe(normalised(withNobody, stranger));
        }
      }
      expect(await stateOfA()).toEqual(before);
    });

    it('refuses a viewer the events that need an approver', async () => {
      const { a } = orgs;
      const socket = await a.viewer.user.socket();
      for (const [event, rule] of Object.entries(CONSOLE_EVENTS)) {
        if (!rule.roles || rule.roles.includes('viewer')) continue;
        const answer = await a.viewer.user.emit(socket, event, rule.payload(idsOf(a)));
        expect([event, answer.error?.code]).toEqual([event, 'FORBIDDEN']);
      }
      const pending = await a.approver.user.api<ProposalView>('GET', `/api/proposals/${a.proposal}`);
      expect(pending.body.state).toBe('pending');
    });

    it("binds an operator's results to its own certificate: org A's cannot settle org B's runs", async () => {
      const { a, b } = orgs;
      const dial = (tls: Record<string, unknown>) =>
        io(`${relay.url}${OPERATOR_NAMESPACE}`, {
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
          ...tls,
        });
      const outcome = (socket: Socket) =>
        new Promise<{ connected: boolean; code?: string }>((resolve) => {
          socket.once('connect', () => resolve({ connected: true }));
          socket.once('connect_error', (err: Error & { data?: { code: string } }) =>
            resolve({ connected: false, code: err.data?.code }),
          );
        });
      // No certificate, or a console session instead of one.
      const bare = dial({ ca: relayRoot(relay) });
      expect(await outcome(bare)).toEqual({ connected: false, code: 'CLIENT_CERT_REQUIRED' });
      bare.close();
      const cookie = a.admin.browser.jar.map((c) => `${c.name}=${c.value}`).join('; ');
      const withSession = dial({
        ca: relayRoot(relay),
        extraHeaders: { cookie, origin: new URL(relay.url).origin },
      });
      expect(await outcome(withSession)).toEqual({ connected: false, code: 'CLIENT_CERT_REQUIRED' });
      withSession.close();

      // Org A's enrolled slot, dialled with its own certificate.
      const { enrollment, credentials } = readEnrollment(a.certOnly.stateDir);
      const operatorA = dial({
        ...pinnedTlsOptions(parseRelayUrl(enrollment.relay), credentials.rootPem, enrollment.caPin),
        key: credentials.keyPem,
        cert: credentials.certPem,
      });
      try {
        expect(await outcome(operatorA)).toEqual({ connected: true });
        // A run on org B's host, in flight.
        const runB = relay.admin.call<{
          result: { exitCode: number; stdoutBytes: number };
          modelOutput: { text: string } | null;
        }>(
          'POST',
          `/api/operators/${b.operator.id}/exec`,
          { command: 'sleep 3 && echo real-b', approve: true },
          60_000,
        );
        const executionB = await eventually(
          async () => {
            const { executions } = await relay.admin.call<{ executions: { id: string; state: string }[] }>(
              'GET',
              `/api/operators/${b.operator.id}/executions`,
            );
            return executions.find((e) => e.state === 'sent' || e.state === 'running')?.id;
          },
          "org B's run to be sent",
          60_000,
        );
        const forged = {
          executionId: executionB,
          mode: 'approved',
          exitCode: 0,
          signal: null,
          stdoutBytes: 999,
          stderrBytes: 0,
          sha256: '0'.repeat(64),
          durationMs: 1,
          chainHead: { seq: 1, hash: '0'.repeat(64) },
          error: null,
        };
        operatorA.emit(OperatorEvents.modelOutput, {
          executionId: executionB,
          text: 'forged',
          truncated: false,
          totalBytes: 6,
        });
        const refused = (await operatorA.timeout(30_000).emitWithAck(OperatorEvents.result, forged)) as Ack;
        const nowhere = missingIds().batch;
        const refusedNowhere = (await operatorA
          .timeout(30_000)
          .emitWithAck(OperatorEvents.result, { ...forged, executionId: nowhere })) as Ack;
        expect([refused.ok, refused.error?.code]).toEqual([false, 'EXECUTION_NOT_FOUND']);
        expect(JSON.stringify(refused).split(executionB).join('<id>')).toBe(
          JSON.stringify(refusedNowhere).split(nowhere).join('<id>'),
        );
        // Org B's run ends with its own host's result, not the forged one.
        const settled = await runB;
        expect(settled.result.exitCode).toBe(0);
        expect(settled.result.stdoutBytes).toBe('real-b\n'.length);
        expect(JSON.stringify(settled)).not.toContain('forged');
      } finally {
        operatorA.close();
      }
    });

    it("sends org A's proposal changes to org A's sockets only", async () => {
      const { a, b } = orgs;
      const socket = await a.approver.user.socket();
      const seenByA: unknown[] = [];
      socket.onAny((event, payload) => seenByA.push({ event, payload }));
      // A socket of org A whose session has ended (signed out) hears nothing more either.
      const browser = newBrowser(relay.dataDir);
      await signIn(browser, relay.url, a.viewer.username, a.viewer.password);
      const signedOut = await signedInUser(browser, relay);
      const endedSocket = await signedOut.socket();
      const seenAfterSignOut: unknown[] = [];
      const csrf = (await signedOut.api<{ csrfToken: string }>('GET', '/api/session')).body.csrfToken;
      const out = await browser.go(`${relay.url}/auth/logout`, {
        method: 'POST',
        headers: { ...originOf(relay.url), [CSRF_HEADER]: csrf, accept: 'application/json' },
      });
      expect(out.status).toBe(200);
      endedSocket.onAny((event, payload) => seenAfterSignOut.push({ event, payload }));
      const denied = await a.approver.user.emit<ProposalView>(socket, 'proposal:deny', {
        proposalId: a.proposal,
      });
      expect([denied.ok, denied.result?.state]).toEqual([true, 'denied']);
      await eventually(
        () => JSON.stringify(seenByA).includes(a.proposal),
        "org A's socket to hear of the denial",
      );
      // An ack on each of org B's connections comes after anything the relay sent them before it.
      for (const [i, person] of [b.admin, b.approver].entries()) {
        const own = await person.user.emit(bSockets[i]!, 'conversation:join', {
          conversationId: b.conversation,
        });
        expect(own.ok).toBe(true);
      }
      expectNoLeak("org B's sockets", JSON.stringify(seenByB));
      // Signed out, the socket is cut off (or at least refused, which comes after anything sent before).
      if (endedSocket.connected) {
        const refused = await signedOut.emit(endedSocket, 'conversation:leave', {
          conversationId: a.conversation,
        });
        expect(refused.error?.code).toBe('UNAUTHENTICATED');
      }
      expect(seenAfterSignOut).toEqual([]);
      await signedOut.close();
      await browser.close();
    });
  },
  300_000,
);
