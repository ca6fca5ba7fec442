import { afterEach, describe, expect, it } from 'vitest';
import { GeminiChatModel, type ChatMessage, type ModelEvent } from '../../appliance/src/llm/index.ts';
import {
  startGeminiFake,
  type GeminiFake,
  type GeminiFakeTurn,
  type GeminiWireContent,
} from '../support/gemini-fake.ts';
import { closedPort, collect, last, stopAtFirstText, texts } from './helpers.ts';

// The official `@google/genai` client against a loopback server speaking the Gemini API's SSE format.

let fake: GeminiFake | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function modelFor(
  script: GeminiFakeTurn[],
  settings: { idleTimeoutMs?: number; apiKey?: string } = {},
) {
  fake = await startGeminiFake(script);
  return new GeminiChatModel({
    apiKey: settings.apiKey ?? 'test-gemini-key',
    model: 'gemini-2.5-flash',
    idleTimeoutMs: settings.idleTimeoutMs ?? 30_000,
    baseUrl: fake.url,
  });
}

const always = () => true;
const lastUserText = (pattern: RegExp) => (contents: GeminiWireContent[]) => {
  const lastContent = contents.at(-1);
  return (
    lastContent?.role === 'user' &&
    lastContent.parts.some((p) => typeof p.text === 'string' && pattern.test(p.text))
  );
};
const answeredFunction = (name: string) => (contents: GeminiWireContent[]) =>
  contents.at(-1)?.parts.some((p) => (p.functionResponse as { name?: string } | undefined)?.name === name) ??
  false;

const ask = (content: string): ChatMessage[] => [
  { role: 'system', content: 'You operate servers through tools.' },
  { role: 'user', content },
];

const readHosts = { operator: 'web-1', path: '/etc/hosts' };

describe('Gemini adapter', () => {
  it('streams the tokens in order, then done, and sends the key, system instruction and function declarations', async () => {
    const model = await modelFor([{ when: always, reply: { parts: [{ text: 'Two hosts are bound.' }] } }]);
    const events = await collect(model.chat({ messages: ask('Which hosts do I have?') }));
    expect(texts(events).join('')).toBe('Two hosts are bound.');
    expect(texts(events)).toEqual(['Two ', 'hosts ', 'are ', 'bound.']);
    expect(last(events)).toEqual({ type: 'done', reason: 'stop' });

    const [request] = fake!.requests;
    expect(request!.url).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect(request!.headers['x-goog-api-key']).toBe('test-gemini-key');
    const [sent] = fake!.generations();
    expect(sent!.contents).toEqual([{ role: 'user', parts: [{ text: 'Which hosts do I have?' }] }]);
    expect(sent!.systemInstruction).toMatchObject({
      parts: [{ text: 'You operate servers through tools.' }],
    });
    const declarations = (
      sent!.tools as { functionDeclarations: { name: string; parametersJsonSchema: object }[] }[]
    )[0]!.functionDeclarations;
    expect(declarations.map((d) => d.name)).toEqual([
      'run_command',
      'read_file',
      'write_file',
      'fetch_session_history',
      'list_operators',
    ]);
    expect(declarations[1]!.parametersJsonSchema).toMatchObject({
      type: 'object',
      required: ['operator', 'path'],
    });
  });

  it('parses and validates a function call, and sends it back with its signature and its response', async () => {
    const model = await modelFor([
      { when: answeredFunction('read_file'), reply: { parts: [{ text: 'The file maps localhost.' }] } },
      {
        when: lastUserText(/hosts file/),
        reply: {
          parts: [
            {
              functionCall: { id: 'fc-1', name: 'read_file', args: readHosts },
              thoughtSignature: 'c2lnbmF0dXJl',
            },
          ],
        },
      },
    ]);
    const first = await collect(model.chat({ messages: ask('Show me the hosts file') }));
    expect(first).toEqual([
      {
        type: 'tool_call',
        call: { id: 'fc-1', name: 'read_file', arguments: readHosts, signature: 'c2lnbmF0dXJl' },
      },
      { type: 'done', reason: 'stop' },
    ]);

    const call = (first[0] as Extract<ModelEvent, { type: 'tool_call' }>).call;
    const second = await collect(
      model.chat({
        messages: [
          ...ask('Show me the hosts file'),
          { role: 'assistant', content: '', toolCalls: [call] },
          { role: 'tool', toolCallId: 'fc-1', name: 'read_file', content: '127.0.0.1 localhost' },
        ],
      }),
    );
    expect(texts(second).join('')).toBe('The file maps localhost.');
    expect(fake!.generations()[1]!.contents.slice(1)).toEqual([
      {
        role: 'model',
        parts: [
          {
            functionCall: { id: 'fc-1', name: 'read_file', args: readHosts },
            thoughtSignature: 'c2lnbmF0dXJl',
          },
        ],
      },
      {
        role: 'user',
        parts: [
          {
            functionResponse: { id: 'fc-1', name: 'read_file', response: { output: '127.0.0.1 localhost' } },
          },
        ],
      },
    ]);
  });

  it('turns unknown functions, bad arguments and MALFORMED_FUNCTION_CALL into typed errors', async () => {
    const model = await modelFor([
      {
        when: always,
        reply: {
          parts: [
            { functionCall: { name: 'execute_now', args: { command: 'rm -rf /var/www' } } },
            { functionCall: { name: 'read_file', args: { operator: 'web-1' } } },
            { text: 'Let me try again.' },
          ],
          finishReason: 'MALFORMED_FUNCTION_CALL',
        },
      },
    ]);
    const events = await collect(model.chat({ messages: ask('Just run it.') }));
    const errors = events.flatMap((e) => (e.type === 'tool_error' ? [e] : []));
    expect(errors.map((e) => [e.name, e.error.code])).toEqual([
      ['execute_now', 'TOOL_CALL_INVALID'],
      ['read_file', 'TOOL_CALL_INVALID'],
      ['', 'TOOL_CALL_INVALID'],
    ]);
    expect(errors[1]!.error.message).toMatch(/path/);
    expect(errors[2]!.error.message).toMatch(/MALFORMED_FUNCTION_CALL.*nothing was run/);
    expect(events.some((e) => e.type === 'tool_call')).toBe(false);
    expect(texts(events).join('')).toBe('Let me try again.');
    expect(last(events)).toEqual({ type: 'done', reason: 'other' });
  });

  it('reports HTTP errors and mid-stream error events as typed errors with the API’s words', async () => {
    const quota = {
      code: 429,
      message: 'Resource has been exhausted (e.g. check quota).',
      status: 'RESOURCE_EXHAUSTED',
    };
    const model = await modelFor([
      { when: lastUserText(/quota/), reply: { httpError: quota } },
      {
        when: lastUserText(/midway/),
        reply: {
          parts: [
            { text: 'Partly ' },
            { error: { code: 500, message: 'Internal error encountered.', status: 'INTERNAL' } },
          ],
        },
      },
    ]);
    expect(await collect(model.chat({ messages: ask('quota') }))).toEqual([
      {
        type: 'error',
        error: {
          code: 'MODEL_FAILED',
          message:
            'Gemini refused the request (HTTP 429 RESOURCE_EXHAUSTED): Resource has been exhausted (e.g. check quota).',
        },
      },
    ]);
    const midway = await collect(model.chat({ messages: ask('midway') }));
    expect(texts(midway)).toEqual(['Partly ']);
    expect(last(midway)).toEqual({
      type: 'error',
      error: {
        code: 'MODEL_FAILED',
        message: 'Gemini refused the request (HTTP 500 INTERNAL): Internal error encountered.',
      },
    });

    const wrongKey = new GeminiChatModel({
      apiKey: 'wrong',
      model: 'gemini-2.5-flash',
      idleTimeoutMs: 30_000,
      baseUrl: fake!.url,
    });
    expect(last(await collect(wrongKey.chat({ messages: ask('hi') })))).toEqual({
      type: 'error',
      error: {
        code: 'MODEL_FAILED',
        message:
          'Gemini refused the request (HTTP 400 INVALID_ARGUMENT): API key not valid. Please pass a valid API key. Check DROPOPS_GEMINI_API_KEY.',
      },
    });
  });

  it('says Gemini cannot be reached when nothing listens', async () => {
    const model = new GeminiChatModel({
      apiKey: 'k',
      model: 'gemini-2.5-flash',
      idleTimeoutMs: 30_000,
      baseUrl: `http://127.0.0.1:${await closedPort()}`,
    });
    const events = await collect(model.chat({ messages: ask('hello') }));
    expect(events).toEqual([
      {
        type: 'error',
        error: {
          code: 'MODEL_UNAVAILABLE',
          message: 'Gemini cannot be reached (fetch failed). Check the network.',
        },
      },
    ]);
  });

  it('stops a model that hangs mid-stream with MODEL_TIMEOUT and closes the connection', async () => {
    const model = await modelFor(
      [{ when: always, reply: { parts: [{ text: 'Checking now' }, { hang: true }] } }],
      {
        idleTimeoutMs: 1_500,
      },
    );
    const events = await collect(model.chat({ messages: ask('status?') }));
    expect(texts(events)).toEqual(['Checking ', 'now']);
    expect(last(events)).toMatchObject({ type: 'error', error: { code: 'MODEL_TIMEOUT' } });
    await fake!.waitForAbandoned(1);
  });

  it('stops on abort, ends the stream with CANCELLED and the server sees the connection closed', async () => {
    const model = await modelFor([{ when: always, reply: { parts: [{ text: 'Working' }, { hang: true }] } }]);
    const events = await stopAtFirstText((signal) => model.chat({ messages: ask('long job'), signal }));
    expect(events.map((e) => e.type)).toEqual(['text', 'error']);
    expect(last(events)).toMatchObject({ type: 'error', error: { code: 'CANCELLED' } });
    await fake!.waitForAbandoned(1);
    expect(fake!.abandoned).toBe(1);
  });
});
