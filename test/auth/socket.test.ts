import { createServer, type Server as HttpsServer } from 'node:https';
import { join } from 'node:path';
import { issueServerCertificate, loadCa } from '@dropops/pki';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenBuckets } from '../../appliance/src/security/rate-limit.ts';
import { BINDING_COOKIE, SESSION_COOKIE } from '../../appliance/src/sessions/cookies.ts';
import { SessionGuard } from '../../appliance/src/sessions/guard.ts';
import { loadSessionKey, Sealer } from '../../appliance/src/sessions/sealing.ts';
import { SessionStore } from '../../appliance/src/sessions/store.ts';
import { capturedLogger, startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import type { Browser } from '../support/browser.ts';
import { firstSignIn, newBrowser, rootOf } from '../support/sign-in-flow.ts';

/**
 * The handshake check the console namespace will use, on a Socket.IO server of its own that shares the relay's
 * database and session key (as a second replica would), so it sees the sessions the relay's sign-in made.
 */
describe('Socket.IO handshake from the session cookie', () => {
  let relay: TestAppliance;
  let browser: Browser;
  let server: HttpsServer;
  let io: Server;
  let url: string;
  const clients: ClientSocket[] = [];

  beforeAll(async () => {
    relay = await startTestAppliance('pglite');
    browser = newBrowser(relay.dataDir);
    await firstSignIn(browser, relay.url, relay.signIn.firstAdminPassword!, 'a long enough passphrase');

    const store = new SessionStore(
      relay.db.sql,
      new Sealer(loadSessionKey(relay.dataDir)),
      { idleSeconds: 1800, absoluteSeconds: 43_200 },
      capturedLogger('guard').logger,
    );
    const guard = new SessionGuard(store, new TokenBuckets(3));
    guard.setOrigin(new URL(relay.url).origin);
    const cert = issueServerCertificate(loadCa(join(relay.dataDir, 'pki')), {
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    server = createServer({ key: cert.privateKeyPem, cert: cert.chainPem });
    io = new Server(server, { serveClient: false, transports: ['websocket'] });
    io.of('/console')
      .use(guard.socketMiddleware())
      .on('connection', (socket) => {
        socket.on('whoami', (ack: (answer: unknown) => void) =>
          ack({ ok: true, result: { name: socket.data.session.user.name, org: socket.data.session.org } }),
        );
      });
    io.of('/approvals').use(guard.socketMiddleware(['approver']));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await new Promise<void>((resolve) => io?.close(() => resolve()));
    await browser?.close();
    await relay?.stop();
  });

  const cookies = (names: string[]) => names.map((name) => `${name}=${browser.cookie(name)}`).join('; ');

  function dial(namespace: string, headers: Record<string, string>): ClientSocket {
    const socket = connect(`${url}${namespace}`, {
      transports: ['websocket'],
      ca: rootOf(relay.dataDir),
      extraHeaders: headers,
      reconnection: false,
    });
    clients.push(socket);
    return socket;
  }

  const outcome = (socket: ClientSocket) =>
    new Promise<{ connected: true } | { connected: false; code: string }>((resolve) => {
      socket.once('connect', () => resolve({ connected: true }));
      socket.once('connect_error', (err: Error & { data?: { code: string } }) =>
        resolve({ connected: false, code: err.data?.code ?? err.message }),
      );
    });

  const asBrowser = (extra: Record<string, string> = {}) => ({
    cookie: cookies([SESSION_COOKIE, BINDING_COOKIE]),
    origin: new URL(relay.url).origin,
    'user-agent': browser.userAgent,
    ...extra,
  });

  it('accepts the browser that signed in, with identity from the session, and limits its events', async () => {
    const socket = dial('/console', asBrowser());
    expect(await outcome(socket)).toEqual({ connected: true });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await socket.timeout(10_000).emitWithAck('whoami'));
    expect(answers.slice(0, 3)).toEqual(
      Array(3).fill({ ok: true, result: { name: 'admin', org: 'default' } }),
    );
    expect(answers[3]).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
  });

  it('refuses another Origin, a missing cookie and a missing role', async () => {
    expect(await outcome(dial('/console', asBrowser({ origin: 'https://evil.example' })))).toEqual({
      connected: false,
      code: 'CSRF_REJECTED',
    });
    expect(await outcome(dial('/console', asBrowser({ cookie: '' })))).toEqual({
      connected: false,
      code: 'UNAUTHENTICATED',
    });
    expect(await outcome(dial('/approvals', asBrowser()))).toEqual({ connected: false, code: 'FORBIDDEN' });
  });
});
