import { DropOpsRole } from '@dropops/protocol';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Sql } from '../db/database.ts';
import { RelayError } from '../errors.ts';
import { randomSecret, sameSecret, sha256 } from '../security/secrets.ts';
import type { Sealer } from './sealing.ts';
import type { SessionCookies } from './cookies.ts';

/** Who signed in, as the identity provider said at the callback: the only source of identity for the console. */
export const SessionIdentity = z.object({
  user: z.object({ id: z.string().min(1).max(255), name: z.string().min(1).max(255) }),
  org: z.string().min(1).max(63),
  roles: z.array(DropOpsRole).min(1),
  issuer: z.string().url(),
  /** Kept for the `id_token_hint` of the IdP logout. */
  idToken: z.string().max(16_384).optional(),
});
export type SessionIdentity = z.infer<typeof SessionIdentity>;

/** What is sealed into a row; nothing of it is readable in the database. */
const SealedSession = SessionIdentity.extend({
  csrfToken: z.string(),
  /** sha256 of the User-Agent and the binding cookie: the browser context the session belongs to. */
  binding: z.string(),
});

export interface ConsoleSession extends SessionIdentity {
  /** The row key (sha256 of the cookie's id); never leaves the relay. */
  readonly handle: Buffer;
  csrfToken: string;
  createdAt: Date;
  expiresAt: Date;
  idleExpiresAt: Date;
}

export interface SessionLifetimes {
  idleSeconds: number;
  absoluteSeconds: number;
}

const bindingOf = (userAgent: string, bindingSecret: string) =>
  sha256(`${bindingSecret}\n${userAgent}`).toString('base64url');

const ended = (why: string) => new RelayError('UNAUTHENTICATED', `${why}; sign in again at /auth/login.`);

/**
 * Console sessions in PostgreSQL. The cookie carries a random id; the row is found by its sha256 and holds the
 * session sealed with AES-256-GCM, so neither a database reader nor a database writer can impersonate anyone.
 */
export class SessionStore {
  private readonly endedListeners = new Set<(handle: Buffer) => void>();

  constructor(
    private readonly sql: Sql,
    private readonly sealer: Sealer,
    readonly lifetimes: SessionLifetimes,
    private readonly log: Logger,
  ) {}

  /** A new session for this browser; the caller sets both secrets as cookies. */
  async create(identity: SessionIdentity, userAgent: string) {
    const sessionId = randomSecret();
    const bindingSecret = randomSecret();
    const handle = sha256(sessionId);
    const record = SealedSession.parse({
      ...identity,
      csrfToken: randomSecret(),
      binding: bindingOf(userAgent, bindingSecret),
    });
    const [row] = await this.sql<{ created_at: Date; last_seen_at: Date; expires_at: Date }[]>`
      INSERT INTO console_sessions (id_hash, sealed, expires_at)
      VALUES (${handle}, ${this.sealer.seal(record, handle)},
              now() + ${this.lifetimes.absoluteSeconds}::int * interval '1 second')
      RETURNING created_at, last_seen_at, expires_at`;
    return { sessionId, bindingSecret, session: this.view(handle, record, row!) };
  }

  /**
   * The live session these cookies name, for this User-Agent, with its idle clock restarted. A session used
   * from another browser context (different User-Agent, or without the binding cookie) is ended: whoever
   * presents it holds a copied cookie, and the owner signs in again.
   */
  async authenticate(cookies: SessionCookies, userAgent: string): Promise<ConsoleSession> {
    if (!cookies.session) throw ended('you are not signed in');
    const handle = sha256(cookies.session);
    const [row] = await this.sql<{ sealed: Buffer; live: boolean }[]>`
      SELECT sealed,
             expires_at > now()
               AND last_seen_at > now() - ${this.lifetimes.idleSeconds}::int * interval '1 second' AS live
      FROM console_sessions WHERE id_hash = ${handle}`;
    if (!row) throw ended('your session has ended or never existed');
    if (!row.live) {
      await this.destroyHandle(handle);
      throw ended(
        `your session has expired (after ${this.lifetimes.idleSeconds} s without activity or ${this.lifetimes.absoluteSeconds} s in all)`,
      );
    }
    const record = SealedSession.safeParse(this.sealer.open(row.sealed, handle));
    if (!record.success) {
      await this.destroyHandle(handle);
      throw ended('your session could not be read (the session key changed)');
    }
    if (!cookies.binding || !sameSecret(bindingOf(userAgent, cookies.binding), record.data.binding)) {
      await this.destroyHandle(handle);
      this.log.warn(
        { code: 'SESSION_BINDING_MISMATCH', user: record.data.user.id, org: record.data.org },
        'a session cookie came from another browser context; the session was ended',
      );
      throw ended('this session belongs to another browser, so it was ended');
    }
    const [touched] = await this.sql<{ created_at: Date; last_seen_at: Date; expires_at: Date }[]>`
      UPDATE console_sessions SET last_seen_at = now() WHERE id_hash = ${handle}
      RETURNING created_at, last_seen_at, expires_at`;
    if (!touched) throw ended('your session has ended');
    return this.view(handle, record.data, touched);
  }

  async destroy(session: ConsoleSession): Promise<void> {
    await this.destroyHandle(session.handle);
  }

  private async destroyHandle(handle: Buffer): Promise<void> {
    await this.sql`DELETE FROM console_sessions WHERE id_hash = ${handle}`;
    for (const listener of this.endedListeners) listener(handle);
  }

  /** Calls `listener` with the row key of every session this relay ends (sign-out, expiry, a copied cookie). */
  onEnded(listener: (handle: Buffer) => void): () => void {
    this.endedListeners.add(listener);
    return () => this.endedListeners.delete(listener);
  }

  private view(
    handle: Buffer,
    record: z.infer<typeof SealedSession>,
    row: { created_at: Date; last_seen_at: Date; expires_at: Date },
  ): ConsoleSession {
    const idleEnd = row.last_seen_at.getTime() + this.lifetimes.idleSeconds * 1000;
    return {
      user: record.user,
      org: record.org,
      roles: record.roles,
      issuer: record.issuer,
      idToken: record.idToken,
      csrfToken: record.csrfToken,
      handle,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      idleExpiresAt: new Date(Math.min(idleEnd, row.expires_at.getTime())),
    };
  }

  /**
   * Deletes the sessions past their idle or absolute expiry; the `cleanup` job runs it. Listeners hear of each,
   * so a console socket that only listens is cut off too, not just one that sends an event.
   */
  async prune(): Promise<number> {
    const removed = await this.sql<{ id_hash: Buffer }[]>`
      DELETE FROM console_sessions
      WHERE expires_at < now() OR last_seen_at < now() - ${this.lifetimes.idleSeconds}::int * interval '1 second'
      RETURNING id_hash`;
    for (const { id_hash } of removed) for (const listener of this.endedListeners) listener(id_hash);
    return removed.length;
  }
}
