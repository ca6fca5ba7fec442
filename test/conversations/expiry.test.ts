import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ConversationEvent, ConversationView, ProposalView } from '@dropops/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { startOllamaFake, toolAnswered, userSaid, type OllamaFake } from '../support/ollama-fake.ts';
import {
  conversationWhen,
  signInAs,
  startOperator,
  type ConsoleUser,
  type RunningOperator,
} from './helpers.ts';

describe('a proposal nobody decides', () => {
  let relay: TestAppliance;
  let model: OllamaFake;
  let web: RunningOperator;
  let alice: ConsoleUser;

  beforeAll(async () => {
    model = await startOllamaFake([
      {
        when: userSaid('Mark it'),
        reply: {
          parts: [
            {
              toolCall: {
                name: 'run_command',
                arguments: {
                  operators: ['web-1'],
                  command: 'touch late.flag',
                  explanation: 'Marks it.',
                  risk: 'low',
                },
              },
            },
          ],
        },
      },
      { when: toolAnswered('run_command'), reply: { parts: [{ text: 'Should not be asked.' }] } },
    ]);
    // Proposals live 2 s here, and the sweep runs every 200 ms.
    relay = await startTestAppliance('pglite', {
      llm: 'ollama',
      ollamaUrl: model.url,
      proposalTtlSeconds: 2,
      sweepIntervalMs: 200,
    });
    web = await startOperator(relay, 'acme', 'web-1');
    alice = await signInAs(relay, { id: 'u-alice', name: 'alice', org: 'acme', roles: ['approver'] });
  }, 240_000);
  afterAll(async () => {
    await alice?.close();
    await web?.stop();
    await relay?.stop();
    await model?.close();
  });

  it('expires, tells the model nothing ran, waits for the user, and can no longer be approved', async () => {
    const { body: conversation } = await alice.api<ConversationView>('POST', '/api/conversations');
    await alice.api('POST', `/api/conversations/${conversation.id}/operators`, { operatorIds: [web.id] });
    const asked = await alice.api<ConversationView>(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      {
        text: 'Mark it',
      },
    );
    expect(asked.body.state).toBe('awaiting-approval');
    const done = await conversationWhen(
      alice,
      conversation.id,
      (v) => v.state === 'idle',
      'the proposal to expire',
    );
    const result = done.events
      .filter((e): e is Extract<ConversationEvent, { type: 'tool-result' }> => e.type === 'tool-result')
      .at(-1)!;
    expect(JSON.parse(result.content)).toMatchObject({ approval: { status: 'expired' } });
    expect(model.chats()).toHaveLength(1);

    const { body: list } = await alice.api<{ proposals: ProposalView[] }>(
      'GET',
      `/api/conversations/${conversation.id}/proposals`,
    );
    expect(list.proposals[0]!.state).toBe('expired');
    const late = await alice.api('POST', `/api/proposals/${list.proposals[0]!.id}/approve`, {});
    expect(late.body.error?.code).toBe('PROPOSAL_CLOSED');
    expect(existsSync(join(web.cwd, 'late.flag'))).toBe(false);
  }, 180_000);
});
