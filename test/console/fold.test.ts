import type { ConversationEvent, ProposalView } from '@dropops/protocol';
import { describe, expect, it } from 'vitest';
import { emptyModel, fold } from '../../console/src/conversation/fold.ts';

// How the console turns a conversation's event stream into what it shows.
const conversationId = '6f1c1d2e-0000-4000-8000-000000000000';
let seq = 0;
const at = '2026-01-01T00:00:00.000Z';
type Body = ConversationEvent extends infer E
  ? E extends ConversationEvent
    ? Omit<E, 'seq' | 'at' | 'conversationId'>
    : never
  : never;
const event = (body: Body) => ({ ...body, conversationId, seq: ++seq, at }) as ConversationEvent;

const proposal = (state: ProposalView['state']): ProposalView => ({
  id: 'p1',
  conversationId,
  kind: 'command',
  command: 'touch x',
  commandSha256: 'a'.repeat(64),
  diff: null,
  explanation: 'makes x',
  risk: 'low',
  targets: [],
  state,
  requiredApprovals: 1,
  reasonRequired: false,
  policyTags: [],
  approvals: [],
  batchId: null,
  createdAt: at,
  expiresAt: at,
  decidedAt: null,
});

describe('folding conversation events', () => {
  it('gathers streamed tokens into one assistant entry that the final message closes', () => {
    const events = [
      event({ type: 'user-message', text: 'hi', by: 'ann' }),
      event({ type: 'state', state: 'thinking' }),
      event({ type: 'token', text: 'Hel' }),
      event({ type: 'token', text: 'lo' }),
    ];
    const streaming = fold(emptyModel(), events);
    expect(streaming.entries).toEqual([
      { kind: 'user', seq: events[0]!.seq, text: 'hi', by: 'ann' },
      { kind: 'assistant', seq: events[2]!.seq, text: 'Hello', streaming: true },
    ]);
    const closed = fold(streaming, [event({ type: 'assistant-message', text: 'Hello.' })]);
    expect(closed.entries[1]).toMatchObject({ text: 'Hello.', streaming: false });
    expect(closed.state).toBe('thinking');
  });

  it('joins a tool result to its call, keeps one entry per proposal, and collects monitor figures', () => {
    const figures = {
      executionId: 'e1',
      operatorId: 'o1',
      operator: 'web-1',
      keptOnHostBytes: 100,
      sentToModelBytes: 40,
      storedBytes: 300,
      outputSha256: 'b'.repeat(64),
      cumulativeLocalShare: 0.6,
    };
    const model = fold(emptyModel(), [
      event({ type: 'tool-call', callId: 'c1', name: 'run_command', arguments: { command: 'df' } }),
      event({ type: 'monitor', figures }),
      event({ type: 'tool-result', callId: 'c1', name: 'run_command', content: '{"results":[]}' }),
      event({ type: 'proposal', proposal: proposal('pending') }),
      event({ type: 'operators', operatorIds: ['o1', 'o2'] }),
      event({ type: 'proposal', proposal: proposal('approved') }),
    ]);
    expect(model.entries.map((e) => e.kind)).toEqual(['tool', 'proposal']);
    expect(model.entries[0]).toMatchObject({ name: 'run_command', result: '{"results":[]}' });
    expect(model.entries[1]).toMatchObject({ proposal: { state: 'approved' } });
    expect(model.proposals.get('p1')?.state).toBe('approved');
    expect(model.figures).toEqual([figures]);
    expect(model.operatorIds).toEqual(['o1', 'o2']);
  });

  it('skips events it has already folded, so a rejoin after a reconnect adds nothing twice', () => {
    const events = [
      event({ type: 'user-message', text: 'once', by: 'ann' }),
      event({ type: 'state', state: 'idle' }),
    ];
    const first = fold(emptyModel(), events);
    const again = fold(first, [...events].reverse());
    expect(again).toBe(first);
    expect(again.entries).toHaveLength(1);
  });
});
