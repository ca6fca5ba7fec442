import type { ServerResponse } from 'node:http';
import {
  hangUntilClosed,
  pickTurn,
  sendJson,
  startFakeHttpServer,
  tokens,
  type FakeHttpServer,
  type ScriptedTurn,
} from './http-fake.ts';

// A scripted model behind Ollama's real wire protocol (docs/api.md of ollama/ollama): GET /api/version,
// GET /api/tags, and POST /api/chat answering with NDJSON lines `{model, created_at, message: {role,
// content, tool_calls?}, done}` and a final line with `done: true`, `done_reason` and the timings;
// errors are `{"error": "..."}` with a status, or such a line mid-stream. Which answer a request gets is
// chosen by the conversation it carries, so an end-to-end test can script a whole session.

/** A message as it arrives at /api/chat. */
export interface OllamaWireMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  tool_calls?: { function: { name: string; arguments: Record<string, unknown> } }[];
  tool_name?: string;
}

export type OllamaFakePart =
  /** Streamed word by word, one NDJSON line each. */
  | { text: string }
  /** `arguments` as a string is sent as-is, which is how a broken server or shim sends malformed JSON. */
  | { toolCall: { name: string; arguments: Record<string, unknown> | string } }
  /** Stops sending and keeps the connection open: a model that hangs. */
  | { hang: true }
  /** An `{"error": ...}` line, then the end of the stream, as Ollama reports a failure mid-answer. */
  | { error: string }
  /** Ends the response without the final `done` line: a server that dies mid-answer. */
  | { cut: true };

export type OllamaFakeReply =
  | { parts: OllamaFakePart[]; doneReason?: string }
  /** Refuses the request before streaming, e.g. 404 for a missing model or 500 for a crashed runner. */
  | { status: number; error: string };

export type OllamaFakeTurn = ScriptedTurn<OllamaWireMessage[], OllamaFakeReply>;

export interface OllamaFakeOptions {
  /** The models /api/tags lists; a chat naming another one gets Ollama's 404. */
  models?: string[];
  version?: string;
}

export interface OllamaFake extends FakeHttpServer {
  /** The bodies of the /api/chat requests, in order. */
  chats(): { model: string; messages: OllamaWireMessage[]; tools?: unknown[]; stream?: boolean }[];
}

// Matchers for the usual script keys.
/** The last message is the user's and matches. */
export const userSaid =
  (pattern: RegExp | string) =>
  (messages: OllamaWireMessage[]): boolean => {
    const last = messages.at(-1);
    return last?.role === 'user' && matches(last.content, pattern);
  };
/** The last message is the result of the named tool (and matches, when a pattern is given). */
export const toolAnswered =
  (tool: string, pattern: RegExp | string = '') =>
  (messages: OllamaWireMessage[]): boolean => {
    const last = messages.at(-1);
    return last?.role === 'tool' && last.tool_name === tool && matches(last.content, pattern);
  };
export const always = (): boolean => true;

function matches(text: string, pattern: RegExp | string): boolean {
  return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
}

export async function startOllamaFake(
  script: readonly OllamaFakeTurn[],
  options: OllamaFakeOptions = {},
): Promise<OllamaFake> {
  const models = options.models ?? ['llama3.1:latest'];
  const server = await startFakeHttpServer(async (request, res) => {
    const path = request.url.split('?')[0];
    if (request.method === 'GET' && path === '/api/version')
      return sendJson(res, 200, { version: options.version ?? '0.12.6' });
    if (request.method === 'GET' && path === '/api/tags')
      return sendJson(res, 200, { models: models.map(tagEntry) });
    if (request.method !== 'POST' || path !== '/api/chat')
      return sendJson(res, 404, { error: '404 page not found' });
    const body = request.body as
      { model?: string; messages?: OllamaWireMessage[]; stream?: boolean } | undefined;
    if (typeof body !== 'object' || !body?.model) return sendJson(res, 400, { error: 'model is required' });
    if (!models.some((m) => m === body.model || m === `${body.model}:latest`)) {
      return sendJson(res, 404, { error: `model "${body.model}" not found, try pulling it first` });
    }
    const messages = body.messages ?? [];
    const reply = pickTurn(script, messages);
    if (!reply) {
      const last = JSON.stringify(messages.at(-1) ?? null).slice(0, 200);
      return sendJson(res, 500, {
        error: `ollama-fake: no scripted turn matches the conversation (last message ${last})`,
      });
    }
    if ('status' in reply) return sendJson(res, reply.status, { error: reply.error });
    await streamReply(res, body.model, reply, body.stream !== false);
  });
  return Object.assign(server, {
    chats: () =>
      server.requests
        .filter((r) => r.method === 'POST' && r.url.startsWith('/api/chat'))
        .map((r) => r.body as ReturnType<OllamaFake['chats']>[number]),
  });
}

async function streamReply(
  res: ServerResponse,
  model: string,
  reply: { parts: OllamaFakePart[]; doneReason?: string },
  stream: boolean,
): Promise<void> {
  const line = (message: object, done = false) => ({
    model,
    created_at: new Date().toISOString(),
    message: { role: 'assistant', content: '', ...message },
    done,
  });
  const chunks: object[] = [];
  for (const part of reply.parts) {
    if ('text' in part) chunks.push(...tokens(part.text).map((t) => line({ content: t })));
    else if ('toolCall' in part) {
      chunks.push(line({ tool_calls: [{ function: { index: 0, ...part.toolCall } }] }));
    } else chunks.push(part);
  }
  const final = {
    ...line({}, true),
    done_reason: reply.doneReason ?? 'stop',
    total_duration: 1_200_000,
    load_duration: 100_000,
    prompt_eval_count: 12,
    prompt_eval_duration: 300_000,
    eval_count: chunks.length,
    eval_duration: 800_000,
  };
  if (!stream) return sendJson(res, 200, collapse(chunks, final));

  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  for (const chunk of chunks) {
    if ('hang' in chunk) return hangUntilClosed(res);
    if ('cut' in chunk) return void res.end();
    res.write(`${JSON.stringify(chunk)}\n`);
    if ('error' in chunk) return void res.end();
  }
  res.end(`${JSON.stringify(final)}\n`);
}

/** The one-object answer of `"stream": false`: the content joined, the tool calls gathered. */
function collapse(chunks: object[], final: object): object {
  const messages = chunks.map(
    (c) => (c as { message?: { content: string; tool_calls?: unknown[] } }).message,
  );
  const toolCalls = messages.flatMap((m) => m?.tool_calls ?? []);
  return {
    ...final,
    message: {
      role: 'assistant',
      content: messages.map((m) => m?.content ?? '').join(''),
      ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
    },
  };
}

function tagEntry(name: string) {
  return {
    name,
    model: name,
    modified_at: '2025-01-01T00:00:00Z',
    size: 4_920_753_328,
    digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
    details: {
      parent_model: '',
      format: 'gguf',
      family: 'llama',
      families: ['llama'],
      parameter_size: '8.0B',
      quantization_level: 'Q4_K_M',
    },
  };
}
