import type { ConversationView } from '@dropops/protocol';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { startOllamaFake, userSaid, type OllamaFake } from '../support/ollama-fake.ts';
import { backends } from '../support/services.ts';
import { signInAs, startOperator, type ConsoleUser, type RunningOperator } from './helpers.ts';

// Only PostgreSQL can be read once the relay has closed its connection; that is what this checks.
describe.skipIf(!backends().includes('postgresql'))('a relay shutting down with a proposal open', () => {
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
                  command: 'touch shutdown.flag',
                  explanation: 'Marks it.',
                  risk: 'low',
                },
              },
            },
          ],
        },
      },
    ]);
    relay = await startTestAppliance('postgresql', { llm: 'ollama', ollamaUrl: model.url });
    web = await startOperator(relay, 'acme', 'web-1');
    alice = await signInAs(relay, { id: 'u-alice', name: 'alice', org: 'acme', roles: ['approver'] });
  }, 240_000);
  afterAll(async () => {
    await alice?.close();
    await web?.stop();
    await model?.close();
    await relay?.stop();
  });

  it('closes instead of waiting for a decision, and withdraws the proposal nobody can finish now', async () => {
    const { body: conversation } = await alice.api<ConversationView>('POST', '/api/conversations');
    await alice.api('POST', `/api/conversations/${conversation.id}/operators`, { operatorIds: [web.id] });
    const asked = await alice.api<ConversationView>(
      'POST',
      `/api/conversations/${conversation.id}/messages`,
      { text: 'Mark it' },
    );
    expect(asked.body.state).toBe('awaiting-approval');

    // A turn waiting on the proposal used to keep close() from ever resolving.
    await relay.close();

    const sql = postgres(process.env.DATABASE_URL!, {
      max: 1,
      onnotice: () => {},
      connection: relay.databaseConnection,
    });
    try {
      const rows = await sql<{ state: string }[]>`
        SELECT state FROM proposals WHERE conversation_id = ${conversation.id}`;
      expect(rows.map((r) => r.state)).toEqual(['withdrawn']);
    } finally {
      await sql.end();
    }
  });
});
