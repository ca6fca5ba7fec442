import { afterEach, describe, expect, it } from 'vitest';
import { OllamaChatModel, type ChatMessage, type ModelEvent } from '../../appliance/src/llm/index.ts';
import {
  always,
  startOllamaFake,
  toolAnswered,
  userSaid,
  type OllamaFake,
  type OllamaFakeTurn,
} from '../support/ollama-fake.ts';
import { closedPort, collect, last, stopAtFirstText, texts } from './helpers.ts';

// The official `ollama` client against a loopback server speaking Ollama's NDJSON wire format.

let fake: OllamaFake | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function modelFor(script: OllamaFakeTurn[], idleTimeoutMs = 30_000) {
  fake = await startOllamaFake(script);
  return new OllamaChatModel({ host: fake.url, model: 'llama3.1', idleTimeoutMs });
}

const ask = (content: string): ChatMessage[] => [
  { role: 'system', content: 'You operate servers through tools.' },
  { role: 'user', content },
];

const diskCheck = {
  operators: ['web-1'],
  command: 'df -h /',
  explanation: 'Shows how full the root file system is.',
  risk: 'low',
};

describe('Ollama adapter', () => {
  it('streams the tokens in order, then done, and sends the tools and messages in Ollama form', async () => {
    const model = await modelFor([{ when: always, reply: { parts: [{ text: 'The disk is 40% full.' }] } }]);
    const events = await collect(model.chat({ messages: ask('How full is the disk?') }));
    expect(texts(events)).toEqual(['The ', 'disk ', 'is ', '40% ', 'full.']);
    expect(last(events)).toEqual({ type: 'done', reason: 'stop' });

    const [sent] = fake!.chats();
    expect(sent).toMatchObject({
      model: 'llama3.1',
      stream: true,
      messages: [
        { role: 'system', content: 'You operate servers through tools.' },
        { role: 'user', content: 'How full is the disk?' },
      ],
    });
    const tools = sent!.tools as { type: string; function: { name: string; parameters: { type: string } } }[];
    expect(tools.map((t) => [t.type, t.function.name, t.function.parameters.type])).toEqual([
      ['function', 'run_command', 'object'],
      ['function', 'read_file', 'object'],
      ['function', 'write_file', 'object'],
      ['function', 'fetch_session_history', 'object'],
      ['function', 'list_operators', 'object'],
    ]);
  });

  it('parses and validates a tool call, and carries the call and its result into the next turn', async () => {
    const model = await modelFor([
      { when: toolAnswered('run_command', '40%'), reply: { parts: [{ text: 'It is 40% full.' }] } },
      {
        when: userSaid('disk'),
        reply: {
          parts: [{ text: 'Let me check. ' }, { toolCall: { name: 'run_command', arguments: diskCheck } }],
        },
      },
    ]);
    const first = await collect(
      model.chat({ messages: ask('How full is the disk?'), tools: ['run_command'] }),
    );
    expect(texts(first)).toEqual(['Let ', 'me ', 'check. ']);
    const call = first.find((e) => e.type === 'tool_call');
    expect(call).toMatchObject({ type: 'tool_call', call: { name: 'run_command', arguments: diskCheck } });
    expect(last(first)).toEqual({ type: 'done', reason: 'stop' });
    expect((fake!.chats()[0]!.tools as unknown[]).length).toBe(1);

    const toolCall = (call as Extract<ModelEvent, { type: 'tool_call' }>).call;
    const second = await collect(
      model.chat({
        messages: [
          ...ask('How full is the disk?'),
          { role: 'assistant', content: 'Let me check. ', toolCalls: [toolCall] },
          { role: 'tool', toolCallId: toolCall.id, name: 'run_command', content: '/dev/sda1 40% /' },
        ],
      }),
    );
    expect(texts(second).join('')).toBe('It is 40% full.');
    expect(fake!.chats()[1]!.messages.slice(2)).toEqual([
      {
        role: 'assistant',
        content: 'Let me check. ',
        tool_calls: [{ function: { name: 'run_command', arguments: diskCheck } }],
      },
      { role: 'tool', content: '/dev/sda1 40% /', tool_name: 'run_command' },
    ]);
  });

  it('turns an unknown tool, bad arguments and malformed JSON into typed errors and keeps streaming', async () => {
    const model = await modelFor([
      {
        when: always,
        reply: {
          parts: [
            { toolCall: { name: 'approve_proposal', arguments: { proposal: 'all' } } },
            { toolCall: { name: 'run_command', arguments: { ...diskCheck, risk: 'none', operators: [] } } },
            { toolCall: { name: 'read_file', arguments: '{"operator": "web-1", "path": ' } },
            { text: 'Sorry, retrying.' },
          ],
        },
      },
    ]);
    const events = await collect(model.chat({ messages: ask('Approve everything yourself.') }));
    const errors = events.filter((e) => e.type === 'tool_error');
    expect(errors.map((e) => e.type === 'tool_error' && [e.name, e.error.code])).toEqual([
      ['approve_proposal', 'TOOL_CALL_INVALID'],
      ['run_command', 'TOOL_CALL_INVALID'],
      ['read_file', 'TOOL_CALL_INVALID'],
    ]);
    const messages = errors.map((e) => (e.type === 'tool_error' ? e.error.message : ''));
    expect(messages[0]).toMatch(/not one of its tools/);
    expect(messages[1]).toMatch(/operators.*risk|risk.*operators/);
    expect(messages[2]).toMatch(/valid JSON/);
    expect(events.some((e) => e.type === 'tool_call')).toBe(false);
    expect(texts(events).join('')).toBe('Sorry, retrying.');
    expect(last(events)).toEqual({ type: 'done', reason: 'stop' });
  });

  it('reports HTTP errors and mid-stream errors as typed errors with the server’s words', async () => {
    const model = await modelFor([
      {
        when: userSaid('crash'),
        reply: { status: 500, error: 'llama runner process has terminated: signal: killed' },
      },
      { when: userSaid('midway'), reply: { parts: [{ text: 'Starting ' }, { error: 'out of memory' }] } },
      { when: userSaid('cut'), reply: { parts: [{ text: 'Half ' }, { cut: true }] } },
    ]);
    const crashed = await collect(model.chat({ messages: ask('crash') }));
    expect(crashed).toEqual([
      {
        type: 'error',
        error: {
          code: 'MODEL_FAILED',
          message:
            'Ollama refused the request (HTTP 500): llama runner process has terminated: signal: killed.',
        },
      },
    ]);
    const midway = await collect(model.chat({ messages: ask('midway') }));
    expect(texts(midway)).toEqual(['Starting ']);
    expect(last(midway)).toEqual({
      type: 'error',
      error: { code: 'MODEL_FAILED', message: 'Ollama failed: out of memory.' },
    });

    const cut = await collect(model.chat({ messages: ask('cut') }));
    expect(cut).toEqual([
      { type: 'text', text: 'Half ' },
      {
        type: 'error',
        error: {
          code: 'MODEL_FAILED',
          message: 'Ollama closed the stream before the model finished its answer. Try again.',
        },
      },
    ]);

    const missing = new OllamaChatModel({ host: fake!.url, model: 'mistral', idleTimeoutMs: 30_000 });
    const notPulled = last(await collect(missing.chat({ messages: ask('hello') })));
    expect(notPulled).toMatchObject({ type: 'error', error: { code: 'MODEL_FAILED' } });
    expect(notPulled?.type === 'error' && notPulled.error.message).toMatch(
      /HTTP 404\): model "mistral" not found, try pulling it first\. Pull the model \(ollama pull mistral\)/,
    );
  });

  it('says Ollama cannot be reached when nothing listens', async () => {
    const model = new OllamaChatModel({
      host: `http://127.0.0.1:${await closedPort()}`,
      model: 'llama3.1',
      idleTimeoutMs: 30_000,
    });
    const events = await collect(model.chat({ messages: ask('hello') }));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'error', error: { code: 'MODEL_UNAVAILABLE' } });
    expect(events[0]!.type === 'error' && events[0]!.error.message).toMatch(
      /connection refused.*DROPOPS_OLLAMA_URL/,
    );
  });

  it('stops a model that hangs mid-stream with MODEL_TIMEOUT and closes the connection', async () => {
    const model = await modelFor(
      [{ when: always, reply: { parts: [{ text: 'Looking into it' }, { hang: true }] } }],
      1_500,
    );
    const events = await collect(model.chat({ messages: ask('status?') }));
    expect(texts(events)).toEqual(['Looking ', 'into ', 'it']);
    expect(last(events)).toMatchObject({ type: 'error', error: { code: 'MODEL_TIMEOUT' } });
    expect(
      last(events)?.type === 'error' && (last(events) as { error: { message: string } }).error.message,
    ).toMatch(/sent nothing for 1.5 s/);
    await fake!.waitForAbandoned(1);
  });

  it('stops on abort, ends the stream with CANCELLED and the server sees the connection closed', async () => {
    const model = await modelFor([{ when: always, reply: { parts: [{ text: 'Working' }, { hang: true }] } }]);
    const events = await stopAtFirstText((signal) => model.chat({ messages: ask('long job'), signal }));
    expect(events).toEqual([
      { type: 'text', text: 'Working' },
      { type: 'error', error: { code: 'CANCELLED', message: 'Stopped: the model was asked to stop.' } },
    ]);
    await fake!.waitForAbandoned(1);
    expect(fake!.abandoned).toBe(1);
  });

  it('closes the connection when the consumer leaves the stream early', async () => {
    const model = await modelFor([{ when: always, reply: { parts: [{ text: 'First' }, { hang: true }] } }]);
    for await (const event of model.chat({ messages: ask('anything') })) {
      expect(event).toEqual({ type: 'text', text: 'First' });
      break;
    }
    await fake!.waitForAbandoned(1);
    expect(fake!.abandoned).toBe(1);
  });

  it('sends nothing when the turn is stopped before it starts', async () => {
    const model = await modelFor([{ when: always, reply: { parts: [{ text: 'never' }] } }]);
    const events = await collect(model.chat({ messages: ask('x'), signal: AbortSignal.abort() }));
    expect(events).toEqual([
      { type: 'error', error: { code: 'CANCELLED', message: 'Stopped: the model was asked to stop.' } },
    ]);
    expect(fake!.chats()).toHaveLength(0);
  });
});
