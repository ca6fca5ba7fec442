import type {
  ConversationEvent,
  ConversationState,
  ExecutionSummary,
  ProposalView,
  TransmissionFigures,
} from '@dropops/protocol/console';

/** One entry of the transcript as the person sees it. */
export type Entry =
  | { kind: 'user'; seq: number; text: string; by: string }
  | { kind: 'assistant'; seq: number; text: string; streaming: boolean }
  | { kind: 'tool'; seq: number; callId: string; name: string; arguments: unknown; result: string | null }
  | { kind: 'proposal'; seq: number; proposal: ProposalView }
  | { kind: 'execution'; seq: number; execution: ExecutionSummary }
  | { kind: 'error'; seq: number; code: string; message: string };

export interface ConversationModel {
  state: ConversationState;
  operatorIds: string[];
  entries: Entry[];
  /** One row per command, in the order their figures arrived. */
  figures: TransmissionFigures[];
  /** The latest version of each proposal, by id. */
  proposals: Map<string, ProposalView>;
  lastSeq: number;
}

export const emptyModel = (operatorIds: string[] = []): ConversationModel => ({
  state: 'idle',
  operatorIds,
  entries: [],
  figures: [],
  proposals: new Map(),
  lastSeq: 0,
});

/**
 * Folds the conversation's events, in sequence order, into what the page shows: streamed tokens gather in one
 * assistant entry until the model's message closes it, a tool's result joins its call, and a proposal keeps
 * its first place in the transcript while its state changes. Events already folded (by seq) are skipped.
 */
export function fold(model: ConversationModel, events: readonly ConversationEvent[]): ConversationModel {
  const fresh = events.filter((e) => e.seq > model.lastSeq).sort((a, b) => a.seq - b.seq);
  if (fresh.length === 0) return model;
  const next: ConversationModel = {
    ...model,
    entries: [...model.entries],
    figures: [...model.figures],
    proposals: new Map(model.proposals),
  };
  const streaming = () => {
    const last = next.entries[next.entries.length - 1];
    return last?.kind === 'assistant' && last.streaming ? last : undefined;
  };
  const closeStream = () => {
    const open = streaming();
    if (open) next.entries[next.entries.length - 1] = { ...open, streaming: false };
  };
  for (const event of fresh) {
    next.lastSeq = event.seq;
    switch (event.type) {
      case 'state':
        next.state = event.state;
        if (event.state !== 'thinking') closeStream();
        break;
      case 'operators':
        next.operatorIds = event.operatorIds;
        break;
      case 'user-message':
        closeStream();
        next.entries.push({ kind: 'user', seq: event.seq, text: event.text, by: event.by });
        break;
      case 'token': {
        const open = streaming();
        if (open) next.entries[next.entries.length - 1] = { ...open, text: open.text + event.text };
        else next.entries.push({ kind: 'assistant', seq: event.seq, text: event.text, streaming: true });
        break;
      }
      case 'assistant-message': {
        const open = streaming();
        if (open) next.entries[next.entries.length - 1] = { ...open, text: event.text, streaming: false };
        else next.entries.push({ kind: 'assistant', seq: event.seq, text: event.text, streaming: false });
        break;
      }
      case 'tool-call':
        closeStream();
        next.entries.push({
          kind: 'tool',
          seq: event.seq,
          callId: event.callId,
          name: event.name,
          arguments: event.arguments,
          result: null,
        });
        break;
      case 'tool-result': {
        const index = next.entries.findIndex(
          (e) => e.kind === 'tool' && e.callId === event.callId && e.result === null,
        );
        const call = next.entries[index];
        if (call?.kind === 'tool') next.entries[index] = { ...call, result: event.content };
        else
          next.entries.push({
            kind: 'tool',
            seq: event.seq,
            callId: event.callId,
            name: event.name,
            arguments: null,
            result: event.content,
          });
        break;
      }
      case 'proposal': {
        next.proposals.set(event.proposal.id, event.proposal);
        const index = next.entries.findIndex(
          (e) => e.kind === 'proposal' && e.proposal.id === event.proposal.id,
        );
        if (index >= 0)
          next.entries[index] = { kind: 'proposal', seq: next.entries[index]!.seq, proposal: event.proposal };
        else {
          closeStream();
          next.entries.push({ kind: 'proposal', seq: event.seq, proposal: event.proposal });
        }
        break;
      }
      case 'execution':
        next.entries.push({ kind: 'execution', seq: event.seq, execution: event.execution });
        break;
      case 'monitor':
        next.figures.push(event.figures);
        break;
      case 'error':
        closeStream();
        next.entries.push({ kind: 'error', seq: event.seq, code: event.code, message: event.message });
        break;
    }
  }
  return next;
}
