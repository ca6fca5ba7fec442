import type { IncomingHttpHeaders } from 'node:http';
import { CSRF_HEADER, type DropOpsRole } from '@dropops/protocol';
import type { Context, Middleware } from 'koa';
import type { Socket } from 'socket.io';
import { RelayError } from '../errors.ts';
import { spend, type TokenBuckets } from '../security/rate-limit.ts';
import { sameSecret } from '../security/secrets.ts';
import { readCookies } from './cookies.ts';
import type { ConsoleSession, SessionStore } from './store.ts';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The session `requireSession` put on the context; identity and organisation come from here only. */
export function sessionOf(ctx: Context): ConsoleSession {
  const session = (ctx.state as { session?: ConsoleSession }).session;
  if (!session) throw new Error('sessionOf() used on a route without requireSession()');
  return session;
}

function checkRoles(session: ConsoleSession, roles: readonly DropOpsRole[] | undefined): void {
  if (!roles || roles.length === 0 || roles.some((role) => session.roles.includes(role))) return;
  throw new RelayError(
    'FORBIDDEN',
    `this needs the role ${roles.join(' or ')}; you have ${session.roles.join(', ')}. Ask an administrator.`,
  );
}

/**
 * Authenticates console requests and Socket.IO handshakes from the session cookies. The relay's own origin is
 * known once it listens (`setOrigin`); until then nothing passes.
 */
export class SessionGuard {
  private origin: string | undefined;

  constructor(
    private readonly store: SessionStore,
    private readonly perUser: TokenBuckets,
  ) {}

  /** For the console namespace: the sessions this relay ends, so their sockets can be cut off. */
  onSessionEnded(listener: (handle: Buffer) => void): () => void {
    return this.store.onEnded(listener);
  }

  setOrigin(origin: string): void {
    this.origin = origin;
  }

  /** Whether a browser says the request comes from a page of this relay. */
  requireOrigin(headers: IncomingHttpHeaders): void {
    if (this.origin && headers.origin === this.origin) return;
    throw new RelayError(
      'CSRF_REJECTED',
      `the request did not come from a page of this appliance (Origin ${headers.origin ?? 'missing'}); use the console at ${this.origin ?? 'the appliance URL'}.`,
    );
  }

  private async authenticate(headers: IncomingHttpHeaders): Promise<ConsoleSession> {
    return this.store.authenticate(readCookies(headers.cookie), headers['user-agent'] ?? '');
  }

  /**
   * A Koa middleware: a live session bound to this browser, within the user's rate limit, holding one of
   * `roles` when given. State-changing methods also need this relay's Origin and the session's CSRF token in
   * the `x-csrf-token` header.
   */
  requireSession(roles?: readonly DropOpsRole[]): Middleware {
    return async (ctx, next) => {
      const session = await this.authenticate(ctx.req.headers);
      spend(ctx, this.perUser, `user:${session.issuer}|${session.user.id}`, 'your account');
      if (STATE_CHANGING.has(ctx.method)) {
        this.requireOrigin(ctx.req.headers);
        const presented = ctx.get(CSRF_HEADER);
        if (!presented || !sameSecret(presented, session.csrfToken)) {
          throw new RelayError(
            'CSRF_REJECTED',
            `a change needs the session's CSRF token in the ${CSRF_HEADER} header (GET /api/session gives it); reload the console.`,
          );
        }
      }
      checkRoles(session, roles);
      (ctx.state as { session?: ConsoleSession }).session = session;
      await next();
    };
  }

  /** The session of a Socket.IO handshake: the same cookies, the same binding, and this relay's Origin. */
  async authenticateHandshake(
    headers: IncomingHttpHeaders,
    roles?: readonly DropOpsRole[],
  ): Promise<ConsoleSession> {
    this.requireOrigin(headers);
    const session = await this.authenticate(headers);
    checkRoles(session, roles);
    return session;
  }

  /**
   * A namespace middleware (`io.of('/console').use(...)`): refuses the connection with the WireError in
   * `err.data`, else puts the session on `socket.data.session` and limits the user's events to their bucket
   * (an event over the limit is dropped and its ack, if any, answered RATE_LIMITED).
   */
  socketMiddleware(roles?: readonly DropOpsRole[]) {
    return (socket: Socket, next: (err?: Error) => void) => {
      this.authenticateHandshake(socket.request.headers, roles).then(
        (session) => {
          socket.data.session = session;
          const key = `user:${session.issuer}|${session.user.id}`;
          socket.use((packet, proceed) => {
            const retryAfter = this.perUser.take(key);
            if (retryAfter === 0) return proceed();
            const ack = packet[packet.length - 1];
            if (typeof ack === 'function') {
              ack({
                ok: false,
                error: { code: 'RATE_LIMITED', message: `too many events; try again in ${retryAfter} s.` },
              });
            }
          });
          next();
        },
        (err: unknown) => {
          const refusal =
            err instanceof RelayError
              ? err
              : new RelayError('INTERNAL', 'the relay could not check the session.');
          next(Object.assign(new Error(refusal.message), { data: refusal.toWire() }));
        },
      );
    };
  }
}
