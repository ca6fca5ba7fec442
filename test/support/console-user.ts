import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caFiles } from '@dropops/pki';
import { CONSOLE_NAMESPACE, CSRF_HEADER } from '@dropops/protocol';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { Agent, request } from 'undici';

export interface ApiAnswer<T = unknown> {
  status: number;
  body: T & { error?: { code: string; message: string } };
}

export interface Ack<T = unknown> {
  ok: boolean;
  result?: T;
  error?: { code: string; message: string };
}

/** Headers to change on one request: a value replaces the usual one, `undefined` leaves it out. */
export type HeaderChanges = Record<string, string | undefined>;

/**
 * A signed-in console user, sending what the browser would: both session cookies, the same User-Agent, this
 * relay's Origin and the session's CSRF token.
 */
export interface ConsoleUser {
  name: string;
  org: string;
  api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    changes?: HeaderChanges,
  ): Promise<ApiAnswer<T>>;
  /** A /console socket, connected. */
  socket(): Promise<ClientSocket>;
  /** Emits an event and returns its ack. */
  emit<T = unknown>(socket: ClientSocket, event: string, payload?: unknown): Promise<Ack<T>>;
  close(): Promise<void>;
}

/** What a browser holds after signing in. */
export interface BrowserSession {
  name: string;
  org: string;
  /** The `cookie` header value: the session and binding cookies. */
  cookie: string;
  userAgent: string;
  csrfToken: string;
}

interface Relay {
  url: string;
  dataDir: string;
}

export const relayRoot = (relay: Relay) => readFileSync(caFiles(join(relay.dataDir, 'pki')).rootCert, 'utf8');

/**
 * HTTPS requests to the relay trusting only its root, with the given base headers; `changes` adjusts them per
 * request. Bodies are JSON; an empty answer reads as `{}`, a non-JSON one as `{ text }`.
 */
export function relayRequests(relay: Relay, base: Record<string, string>) {
  const dispatcher = new Agent({ connect: { ca: [relayRoot(relay)] } });
  const send = async <T>(
    method: string,
    path: string,
    body?: unknown,
    changes: HeaderChanges = {},
  ): Promise<ApiAnswer<T>> => {
    const headers: Record<string, string> = {
      ...base,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    };
    for (const [name, value] of Object.entries(changes)) {
      if (value === undefined) delete headers[name];
      else headers[name] = value;
    }
    const response = await request(`${relay.url}${path}`, {
      method: method as 'GET',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher,
      headersTimeout: 180_000,
      bodyTimeout: 180_000,
    });
    const text = await response.body.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { text };
    }
    return { status: response.statusCode, body: parsed as ApiAnswer<T>['body'] };
  };
  return { send, close: () => dispatcher.close() };
}

/** A /console socket with these handshake headers; it resolves connected or rejects with the refusal. */
export async function consoleSocket(relay: Relay, headers: Record<string, string>): Promise<ClientSocket> {
  const socket = connect(`${relay.url}${CONSOLE_NAMESPACE}`, {
    transports: ['websocket'],
    ca: relayRoot(relay),
    extraHeaders: headers,
    reconnection: false,
    // Never multiplexed over another connection to the same relay (an operator's, in this process).
    forceNew: true,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
  } catch (err) {
    socket.close();
    throw err;
  }
  return socket;
}

/** The console user of a session a browser holds. */
export function consoleUser(relay: Relay, held: BrowserSession): ConsoleUser {
  const headers = { cookie: held.cookie, 'user-agent': held.userAgent, origin: new URL(relay.url).origin };
  const requests = relayRequests(relay, { ...headers, [CSRF_HEADER]: held.csrfToken });
  const sockets: ClientSocket[] = [];
  return {
    name: held.name,
    org: held.org,
    api: requests.send,
    async socket() {
      const socket = await consoleSocket(relay, headers);
      sockets.push(socket);
      return socket;
    },
    emit: (socket, event, payload) => socket.timeout(60_000).emitWithAck(event, payload ?? {}),
    async close() {
      for (const socket of sockets) socket.close();
      await requests.close();
    },
  };
}
