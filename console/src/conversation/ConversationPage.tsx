import type { ProposalView } from '@dropops/protocol/console';
import { useEffect, useMemo, useRef, useState } from 'react';
import { ApprovalDialog } from '../approvals/ApprovalDialog.tsx';
import { TransmissionMonitor } from '../monitor/TransmissionMonitor.tsx';
import { useOperators } from '../operators/useOperators.ts';
import { ask } from '../lib/socket.ts';
import { useSession } from '../lib/session.ts';
import { MessageBox, CommandBox } from './Composer.tsx';
import { OperatorBinding } from './OperatorBinding.tsx';
import { Transcript } from './Transcript.tsx';
import { useConversation } from './useConversation.ts';

const STATE_LABEL: Record<string, string> = {
  idle: 'Idle',
  thinking: 'Model is answering',
  running: 'Running',
  'awaiting-approval': 'Waiting for approval',
  ended: 'Ended',
};

/** One conversation: transcript with live tokens and tool activity, the composers, operators and the monitor. */
export function ConversationPage({ id }: { id: string }) {
  const session = useSession();
  const { view, model, problem } = useConversation(id);
  const { operators } = useOperators();
  const [actionProblem, setActionProblem] = useState<string | null>(null);
  const [reviewing, setReviewing] = useState<string | null>(null);
  const autoOpened = useRef(new Set<string>());

  // A proposal that appears while the person watches opens the approval dialog once, by itself.
  useEffect(() => {
    for (const proposal of model.proposals.values()) {
      if (proposal.state === 'pending' && !autoOpened.current.has(proposal.id)) {
        autoOpened.current.add(proposal.id);
        setReviewing(proposal.id);
      }
    }
  }, [model.proposals]);

  const bound = useMemo(
    () => (operators ?? []).filter((o) => model.operatorIds.includes(o.id)),
    [operators, model.operatorIds],
  );
  const act = async (work: () => Promise<unknown>) => {
    setActionProblem(null);
    try {
      await work();
    } catch (err) {
      setActionProblem((err as Error).message);
    }
  };

  if (!view) {
    return problem ? <p role="alert">{problem}</p> : <p className="loading">Joining the conversation…</p>;
  }
  const busy = model.state === 'thinking' || model.state === 'running';
  const noModel = view.model.provider === 'none';
  const open: ProposalView | undefined = reviewing ? model.proposals.get(reviewing) : undefined;

  return (
    <div className="conversation">
      <section className="conversation-head">
        <h1>Conversation</h1>
        <span className={`state state-${model.state}`} data-testid="conversation-state">
          {STATE_LABEL[model.state] ?? model.state}
        </span>
        <span className="model-info">
          {noModel
            ? 'No model'
            : `Model: ${view.model.provider}${view.model.model ? ` · ${view.model.model}` : ''}`}
        </span>
        <span className="owner">started by {view.owner}</span>
        <button
          type="button"
          className="danger"
          disabled={!busy && model.state !== 'awaiting-approval'}
          onClick={() => void act(() => ask('conversation:stop', { conversationId: id }))}
        >
          Stop
        </button>
      </section>
      {noModel && (
        <p className="notice" role="status" data-testid="no-model">
          No model is connected. {view.model.notice ?? ''} Type commands for the bound operators directly
          below; they go through the same approval path.
        </p>
      )}
      {(problem || actionProblem) && <p role="alert">{problem ?? actionProblem}</p>}
      <div className="conversation-body">
        <OperatorBinding
          conversationId={id}
          operators={operators}
          boundIds={model.operatorIds}
          disabled={model.state === 'ended'}
          onProblem={setActionProblem}
        />
        <div className="chat">
          <Transcript entries={model.entries} onReview={setReviewing} />
          {!noModel && (
            <MessageBox
              disabled={model.state === 'ended' || busy}
              onSend={(text) => act(() => ask('conversation:message', { conversationId: id, text }))}
            />
          )}
          <CommandBox
            bound={bound}
            disabled={model.state === 'ended' || busy}
            onRun={(operatorIds, command) =>
              act(() => ask('conversation:run', { conversationId: id, operatorIds, command }))
            }
          />
        </div>
        <TransmissionMonitor figures={model.figures} />
      </div>
      {open && <ApprovalDialog proposal={open} session={session} onClose={() => setReviewing(null)} />}
    </div>
  );
}
