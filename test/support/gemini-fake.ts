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

// A scripted model behind the Gemini API's wire format: POST /v1beta/models/{model}:streamGenerateContent
// ?alt=sse with the key in x-goog-api-key, answered with `data: <GenerateContentResponse>` events
// separated by CRLF CRLF, each `{candidates: [{content: {role: "model", parts: [{text} | {functionCall:
// {name, args}}]}, index}], usageMetadata, modelVersion, responseId}`, the last one carrying
// `finishReason`. Errors are google.rpc.Status JSON `{"error": {"code", "message", "status"}}`, as the
// body of a failed response or as an event mid-stream.

export interface GeminiWireContent {
  role: 'user' | 'model';
  parts: Record<string, unknown>[];
}

export interface GeminiStatus {
  code: number;
  message: string;
  status: string;
}

export type GeminiFakePart =
  | { text: string }
  | { functionCall: { name: string; args: Record<string, unknown>; id?: string }; thoughtSignature?: string }
  | { hang: true }
  | { error: GeminiStatus };

export type GeminiFakeReply =
  { parts: GeminiFakePart[]; finishReason?: string } | { httpError: GeminiStatus };

export type GeminiFakeTurn = ScriptedTurn<GeminiWireContent[], GeminiFakeReply>;

export interface GeminiFake extends FakeHttpServer {
  /** The generateContent request bodies, in order. */
  generations(): { contents: GeminiWireContent[]; systemInstruction?: unknown; tools?: unknown[] }[];
}

const STREAM_PATH = /^\/v1beta\/models\/([^/:]+):streamGenerateContent$/;

export async function startGeminiFake(
  script: readonly GeminiFakeTurn[],
  options: { apiKey?: string; models?: string[] } = {},
): Promise<GeminiFake> {
  const apiKey = options.apiKey ?? 'test-gemini-key';
  const models = options.models ?? ['gemini-2.5-flash'];
  const server = await startFakeHttpServer(async (request, res) => {
    const [path, query = ''] = request.url.split('?');
    const route = request.method === 'POST' ? STREAM_PATH.exec(path ?? '') : null;
    if (!route || new URLSearchParams(query).get('alt') !== 'sse') {
      return status(res, {
        code: 404,
        message: `Method not found: ${request.method} ${path}`,
        status: 'NOT_FOUND',
      });
    }
    if (request.headers['x-goog-api-key'] !== apiKey) {
      return status(res, {
        code: 400,
        message: 'API key not valid. Please pass a valid API key.',
        status: 'INVALID_ARGUMENT',
      });
    }
    const model = route[1]!;
    if (!models.includes(model)) {
      return status(res, {
        code: 404,
        message: `models/${model} is not found for API version v1beta, or is not supported for generateContent.`,
        status: 'NOT_FOUND',
      });
    }
    const body = request.body as { contents?: GeminiWireContent[] } | undefined;
    const reply = pickTurn(script, body?.contents ?? []);
    if (!reply) {
      return status(res, {
        code: 500,
        message: 'gemini-fake: no scripted turn matches the conversation',
        status: 'INTERNAL',
      });
    }
    if ('httpError' in reply) return status(res, reply.httpError);
    await streamReply(res, model, reply);
  });
  return Object.assign(server, {
    generations: () =>
      server.requests
        .filter((r) => r.method === 'POST')
        .map((r) => r.body as ReturnType<GeminiFake['generations']>[number]),
  });
}

function status(res: ServerResponse, error: GeminiStatus): void {
  sendJson(res, error.code, { error });
}

async function streamReply(
  res: ServerResponse,
  model: string,
  reply: { parts: GeminiFakePart[]; finishReason?: string },
): Promise<void> {
  const responseId = `fake-${Math.random().toString(36).slice(2)}`;
  const event = (parts: object[], finishReason?: string) => ({
    candidates: [{ content: { parts, role: 'model' }, ...(finishReason ? { finishReason } : {}), index: 0 }],
    usageMetadata: { promptTokenCount: 12, candidatesTokenCount: 3, totalTokenCount: 15 },
    modelVersion: model,
    responseId,
  });
  const events: object[] = [];
  for (const part of reply.parts) {
    if ('text' in part) events.push(...tokens(part.text).map((t) => event([{ text: t }])));
    else if ('functionCall' in part) events.push(event([part]));
    else events.push(part);
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-content-type-options': 'nosniff' });
  for (const chunk of events) {
    if ('hang' in chunk) return hangUntilClosed(res);
    res.write(`data: ${JSON.stringify(chunk)}\r\n\r\n`);
    if ('error' in chunk) return void res.end();
  }
  // Gemini's last event carries the finish reason (here with an empty text part, as the API sends it).
  res.end(`data: ${JSON.stringify(event([{ text: '' }], reply.finishReason ?? 'STOP'))}\r\n\r\n`);
}
