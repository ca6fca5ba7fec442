import type { ConversationView } from '@dropops/protocol/console';
import { useState } from 'react';
import { useOperators } from '../operators/useOperators.ts';
import { navigate } from '../lib/route.ts';
import { ask } from '../lib/socket.ts';

/** Start a conversation, or open one that operators of the organisation are working for. */
export function HomePage() {
  const { operators } = useOperators();
  const [problem, setProblem] = useState<string | null>(null);
  const open = [...new Set((operators ?? []).flatMap((o) => (o.conversationId ? [o.conversationId] : [])))];

  const start = async () => {
    setProblem(null);
    try {
      const view = await ask<ConversationView>('conversation:start', {});
      navigate(`/conversations/${view.id}`);
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <div className="home">
      <h1>Conversations</h1>
      <p>
        Start a conversation, bind the operators of the servers you want to look at, then ask. Read-only
        commands run at once; every change waits for an approval.
      </p>
      <button type="button" onClick={() => void start()}>
        Start a conversation
      </button>
      {problem && <p role="alert">{problem}</p>}
      {open.length > 0 && (
        <>
          <h2>Conversations with operators bound</h2>
          <ul>
            {open.map((id) => (
              <li key={id}>
                <a
                  href={`/conversations/${id}`}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate(`/conversations/${id}`);
                  }}
                >
                  {id}
                </a>{' '}
                (
                {(operators ?? [])
                  .filter((o) => o.conversationId === id)
                  .map((o) => o.name)
                  .join(', ')}
                )
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
