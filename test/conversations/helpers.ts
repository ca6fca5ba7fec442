import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConversationView, DropOpsRole } from '@dropops/protocol';
import { BINDING_COOKIE, SESSION_COOKIE } from '../../appliance/src/sessions/cookies.ts';
import { loadSessionKey, Sealer } from '../../appliance/src/sessions/sealing.ts';
import { SessionStore } from '../../appliance/src/sessions/store.ts';
import { tempDir } from '../helpers.ts';
import { addOperator } from '../jobs/support.ts';
import { capturedLogger, eventually, type TestAppliance } from '../support/appliance.ts';
import { consoleUser, relayRequests, type ApiAnswer, type ConsoleUser } from '../support/console-user.ts';

export type { ApiAnswer, ConsoleUser };

const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) DropOpsConversationTest/1.0';

/**
 * A signed-in console user whose session row the relay's own SessionStore made (sealed with its key), for
 * any org and roles without an identity provider.
 */
export async function signInAs(
  relay: TestAppliance,
  who: { id: string; name: string; org: string; roles: DropOpsRole[] },
): Promise<ConsoleUser> {
  const store = new SessionStore(
    relay.db.sql,
    new Sealer(loadSessionKey(relay.dataDir)),
    { idleSeconds: 1800, absoluteSeconds: 43_200 },
    capturedLogger('sessions').logger,
  );
  const { sessionId, bindingSecret, session } = await store.create(
    { user: { id: who.id, name: who.name }, org: who.org, roles: who.roles, issuer: relay.signIn.issuer },
    USER_AGENT,
  );
  return consoleUser(relay, {
    name: who.name,
    org: who.org,
    cookie: `${SESSION_COOKIE}=${sessionId}; ${BINDING_COOKIE}=${bindingSecret}`,
    userAgent: USER_AGENT,
    csrfToken: session.csrfToken,
  });
}

/** Requests with no session at all, over the relay's TLS. */
export function anonymousApi(relay: TestAppliance) {
  const { send } = relayRequests(relay, { origin: new URL(relay.url).origin });
  return (method: string, path: string, body?: unknown): Promise<ApiAnswer> =>
    send(method, path, method === 'GET' ? undefined : body);
}

export interface RunningOperator {
  id: string;
  name: string;
  /** The directory the operator runs commands in. */
  cwd: string;
  stop(): Promise<void>;
}

/** A real operator on this machine for a new slot of `org`, with `files` in its working directory, connected. */
export async function startOperator(
  relay: TestAppliance,
  org: string,
  name: string,
  files: Record<string, string> = {},
): Promise<RunningOperator> {
  const work = tempDir(`dropops-${name}-`);
  const operator = await addOperator(relay.admin, relay, work.path, name, org);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(operator.cwd, file), text);
  await operator.start();
  return {
    id: operator.id,
    name,
    cwd: operator.cwd,
    async stop() {
      await operator.stop();
      work.remove();
    },
  };
}

/** Polls the conversation until `check` holds for it. */
export async function conversationWhen(
  user: ConsoleUser,
  id: string,
  check: (view: ConversationView) => boolean,
  what: string,
): Promise<ConversationView> {
  return eventually(
    async () => {
      const { body } = await user.api<ConversationView>('GET', `/api/conversations/${id}`);
      return check(body) ? body : undefined;
    },
    what,
    120_000,
  );
}
