import { CONSOLE_SERVER_EVENT, ConversationEvent, type ConversationView } from '@dropops/protocol/console';
import { useEffect, useState } from 'react';
import { consoleSocket, ask } from '../lib/socket.ts';
import { emptyModel, fold, type ConversationModel } from './fold.ts';

export interface LiveConversation {
  view: ConversationView | null;
  model: ConversationModel;
  problem: string | null;
}

/**
 * Joins the conversation on the console socket and folds its events as they stream in. On a reconnect it
 * joins again and picks up, by sequence number, whatever it missed from the relay's log.
 */
export function useConversation(id: string): LiveConversation {
  const [view, setView] = useState<ConversationView | null>(null);
  const [model, setModel] = useState<ConversationModel>(emptyModel);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    const socket = consoleSocket();
    let active = true;
    const join = () =>
      ask<ConversationView>('conversation:join', { conversationId: id }).then(
        (joined) => {
          if (!active) return;
          setView(joined);
          setModel((current) => fold({ ...current, operatorIds: joined.operatorIds }, joined.events));
          setProblem(null);
        },
        (err: Error) => active && setProblem(err.message),
      );
    const onEvent = (payload: unknown) => {
      const parsed = ConversationEvent.safeParse(payload);
      if (!parsed.success || parsed.data.conversationId !== id) return;
      setModel((current) => fold(current, [parsed.data]));
    };
    const onConnectError = (err: Error & { data?: { message?: string } }) =>
      setProblem(`The live connection was refused: ${err.data?.message ?? err.message}`);
    socket.on(CONSOLE_SERVER_EVENT, onEvent);
    socket.on('connect', join);
    socket.on('connect_error', onConnectError);
    if (socket.connected) void join();
    return () => {
      active = false;
      socket.off(CONSOLE_SERVER_EVENT, onEvent);
      socket.off('connect', join);
      socket.off('connect_error', onConnectError);
      void ask('conversation:leave', { conversationId: id }).catch(() => undefined);
    };
  }, [id]);

  return { view, model, problem };
}
