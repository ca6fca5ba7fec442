import {
  CONSOLE_NAMESPACE,
  CONSOLE_SERVER_EVENT,
  ConsoleClientEvents,
  type ConsoleClientEvent,
} from '@dropops/protocol';
import type { Logger } from 'pino';
import type { Server, Socket } from 'socket.io';
import type { z } from 'zod';
import type { ApprovalService } from '../approvals/approval-service.ts';
import type { ConversationService } from '../conversations/service.ts';
import { databaseUnavailable, isDatabaseUnreachable } from '../db/unavailable.ts';
import { RelayError } from '../errors.ts';
import type { SessionGuard } from '../sessions/guard.ts';
import type { ConsoleSession } from '../sessions/store.ts';
import { parseInput } from '../validation.ts';
import { principalOf, type Principal } from './principal.ts';

/** Relay → client: a proposal of the organisation changed (made, approved by one more person, decided). */
export const CONSOLE_PROPOSAL_EVENT = 'console:proposal';

type Payload<E extends ConsoleClientEvent> = z.infer<(typeof ConsoleClientEvents)[E]>;
type Handlers = {
  [E in ConsoleClientEvent]: (who: Principal, input: Payload<E>, socket: Socket) => Promise<unknown>;
};

const conversationRoom = (id: string) => `conversation:${id}`;
const orgRoom = (org: string) => `org:${org}`;
/** Every socket of one session, so that ending the session cuts them all off, on whichever replica. */
const sessionRoom = (handle: Buffer) => `session:${handle.toString('base64url')}`;

/**
 * The console's Socket.IO namespace. The handshake needs a live session bound to this browser and this
 * relay's Origin (the session guard); every event is re-authenticated from the handshake's cookies (a session
 * that ended since refuses further events), limited per user, validated by its schema, and acknowledged with
 * `{ ok, result | error }`. Every id is looked up inside the session's organisation.
 */
export function mountConsoleNamespace(
  io: Server,
  deps: { guard: SessionGuard; conversations: ConversationService; approvals: ApprovalService; log: Logger },
): () => void {
  const { conversations, approvals } = deps;
  const nsp = io.of(CONSOLE_NAMESPACE);
  nsp.use(deps.guard.socketMiddleware());

  const handlers: Handlers = {
    'conversation:start': async (who, _input, socket) => {
      const view = await conversations.start(who);
      await socket.join(conversationRoom(view.id));
      return view;
    },
    'conversation:join': async (who, { conversationId }, socket) => {
      const view = await conversations.view(who, conversationId);
      await socket.join(conversationRoom(view.id));
      return view;
    },
    'conversation:leave': async (_who, { conversationId }, socket) => {
      await socket.leave(conversationRoom(conversationId));
      return { left: conversationId };
    },
    'conversation:bind': (who, { conversationId, operatorIds }) =>
      conversations.bind(who, conversationId, operatorIds),
    'conversation:unbind': (who, { conversationId, operatorIds }) =>
      conversations.unbind(who, conversationId, operatorIds),
    'conversation:message': async (who, { conversationId, text }) => {
      await conversations.send(who, conversationId, text);
      return { accepted: conversationId };
    },
    'conversation:run': async (who, { conversationId, operatorIds, command }) => {
      await conversations.runTyped(who, conversationId, operatorIds, command);
      return { accepted: conversationId };
    },
    'conversation:stop': (who, { conversationId }) => conversations.stop(who, conversationId),
    'conversation:end': (who, { conversationId }) => conversations.end(who, conversationId),
    'proposal:approve': (who, { proposalId, continueOnFailure, reason }) =>
      approvals.approve(who, proposalId, { continueOnFailure, reason }),
    'proposal:deny': (who, { proposalId, reason }) => approvals.deny(who, proposalId, reason),
  };

  nsp.on('connection', (socket) => {
    const session = socket.data.session as ConsoleSession;
    // The org room hears the org's proposals until the socket goes: it must go when its session ends.
    void socket.join([orgRoom(session.org), sessionRoom(session.handle)]);
    for (const event of Object.keys(ConsoleClientEvents) as ConsoleClientEvent[]) {
      socket.on(event, (payload: unknown, ack: unknown) => {
        if (typeof ack !== 'function') return;
        void answer(socket, event, payload).then((reply) => {
          (ack as (reply: unknown) => void)(reply);
          // A session found ended (idle, or ended elsewhere) takes its socket with it.
          if (!reply.ok && reply.error?.code === 'UNAUTHENTICATED') socket.disconnect(true);
        });
      });
    }
  });

  async function answer(socket: Socket, event: ConsoleClientEvent, payload: unknown) {
    try {
      // The session may have ended (logout, idle) since the handshake.
      const session = await deps.guard.authenticateHandshake(socket.request.headers);
      const who = principalOf(session, socket.handshake.address);
      const input = parseInput(ConsoleClientEvents[event], payload ?? {}, event);
      const handler = handlers[event] as (who: Principal, input: unknown, socket: Socket) => Promise<unknown>;
      return { ok: true, result: await handler(who, input, socket) };
    } catch (err) {
      if (err instanceof RelayError) return { ok: false, error: err.toWire() };
      if (isDatabaseUnreachable(err)) return { ok: false, error: databaseUnavailable().toWire() };
      deps.log.error({ err, event }, 'console event failed');
      return {
        ok: false,
        error: { code: 'INTERNAL', message: 'the relay failed to handle this event; see its log.' },
      };
    }
  }

  // Deferred a turn, so that an event whose own check ended the session still gets its UNAUTHENTICATED ack.
  const offSessions = deps.guard.onSessionEnded((handle) =>
    setImmediate(() => nsp.in(sessionRoom(handle)).disconnectSockets(true)),
  );
  const offEvents = conversations.onEvent((_org, event) =>
    nsp.to(conversationRoom(event.conversationId)).emit(CONSOLE_SERVER_EVENT, event),
  );
  const offProposals = approvals.onChange((org, view) =>
    nsp.to(orgRoom(org)).emit(CONSOLE_PROPOSAL_EVENT, view),
  );
  return () => {
    offSessions();
    offEvents();
    offProposals();
  };
}
