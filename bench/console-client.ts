// A person at the console, for the benchmarks: signed in through the relay's embedded OIDC provider the way a
// browser does it (the same plain HTML forms), then holding a /console socket with the session's cookies.
import { CONSOLE_SERVER_EVENT, type ConversationEvent } from '@dropops/protocol';
import { BINDING_COOKIE, SESSION_COOKIE } from '../appliance/src/sessions/cookies.ts';
import { Browser } from '../test/support/browser.ts';
import { consoleSocket, relayRoot } from '../test/support/console-user.ts';
import { firstSignIn } from '../test/support/sign-in-flow.ts';
import type { RelayProcess } from './lib.ts';

/** How long one socket event or awaited console event may take before the benchmark reports a hang. */
const EVENT_LIMIT_MS = 300_000;

export interface ReceivedEvent {
  event: ConversationEvent;
  /** performance.now() when the socket delivered it. */
  at: number;
}

export interface ConsoleSession {
  /** Emits a console event and returns its result; a refusal throws with the relay's code and message. */
  emit<T>(event: string, payload: unknown): Promise<T>;
  /** The next conversation event, from now on, that `match` accepts. */
  next(match: (event: ConversationEvent) => boolean, what: string): Promise<ReceivedEvent>;
  close(): Promise<void>;
}

/** The first administrator's first sign-in: the one-time password, a new password, back to the callback. */
async function signInAsFirstAdmin(browser: Browser, relay: RelayProcess): Promise<void> {
  const oneTimePassword = relay.oneTimePassword();
  if (!oneTimePassword)
    throw new Error('the relay printed no one-time password; start it on an empty data directory.');
  await firstSignIn(browser, relay.url, oneTimePassword, 'a benchmark passphrase, long enough');
  if (!browser.cookie(SESSION_COOKIE)) throw new Error('the sign-in set no session cookie.');
}

/** Signs in as the embedded admin and connects a /console socket with that browser's cookies. */
export async function signInToConsole(relay: RelayProcess): Promise<ConsoleSession> {
  const browser = new Browser([relayRoot(relay)]);
  await signInAsFirstAdmin(browser, relay);
  const socket = await consoleSocket(relay, {
    cookie: `${SESSION_COOKIE}=${browser.cookie(SESSION_COOKIE)}; ${BINDING_COOKIE}=${browser.cookie(BINDING_COOKIE)}`,
    origin: new URL(relay.url).origin,
    'user-agent': browser.userAgent,
  });
  const waiters = new Set<{
    match: (e: ConversationEvent) => boolean;
    resolve: (r: ReceivedEvent) => void;
  }>();
  socket.on(CONSOLE_SERVER_EVENT, (event: ConversationEvent) => {
    const at = performance.now();
    for (const waiter of waiters)
      if (waiter.match(event)) {
        waiters.delete(waiter);
        waiter.resolve({ event, at });
      }
  });
  return {
    async emit<T>(event: string, payload: unknown): Promise<T> {
      const answer = (await socket.timeout(EVENT_LIMIT_MS).emitWithAck(event, payload)) as {
        ok: boolean;
        result?: T;
        error?: { code: string; message: string };
      };
      if (!answer.ok) throw new Error(`${event} refused: ${answer.error?.code}: ${answer.error?.message}`);
      return answer.result as T;
    },
    next(match, what) {
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (received: ReceivedEvent) => {
            clearTimeout(timer);
            resolve(received);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`timed out waiting for ${what}`));
        }, EVENT_LIMIT_MS);
        // A wait left behind by a failed step must not hold the process open.
        timer.unref();
        waiters.add(waiter);
      });
    },
    async close() {
      socket.close();
      await browser.close();
    },
  };
}
