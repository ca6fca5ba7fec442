import { ApiError, GoogleGenAI, type Content, type FunctionDeclaration, type Part } from '@google/genai';
import { guardedStream, isConnectionFailure, plainReason } from './guarded-stream.ts';
import type {
  ChatMessage,
  ChatModel,
  ChatRequest,
  DoneReason,
  ModelError,
  ModelEvent,
  ModelInfo,
} from './model.ts';
import { parseToolCall, TOOL_NAMES, toolSpecs, type ToolName } from './tools.ts';

export interface GeminiSettings {
  apiKey: string;
  model: string;
  idleTimeoutMs: number;
  /** Another endpoint than Google's, passed to the client's httpOptions (tests point it at a loopback fake). */
  baseUrl?: string;
}

/** Google's Gemini API through the official `@google/genai` client, streamed over SSE. */
export class GeminiChatModel implements ChatModel {
  readonly info: ModelInfo;
  private readonly client: GoogleGenAI;

  constructor(private readonly settings: GeminiSettings) {
    this.info = { provider: 'gemini', model: settings.model };
    // vertexai: false so a GOOGLE_GENAI_USE_VERTEXAI in the environment cannot send prompts elsewhere.
    this.client = new GoogleGenAI({
      apiKey: settings.apiKey,
      vertexai: false,
      ...(settings.baseUrl ? { httpOptions: { baseUrl: settings.baseUrl } } : {}),
    });
  }

  chat(request: ChatRequest): AsyncIterable<ModelEvent> {
    const offered = request.tools ?? TOOL_NAMES;
    const { client } = this;
    const { model } = this.settings;
    const system = request.messages.flatMap((m) => (m.role === 'system' ? [m.content] : []));
    return guardedStream(
      'Gemini',
      async function* (signal) {
        const stream = await client.models.generateContentStream({
          model,
          contents: toGeminiContents(request.messages),
          config: {
            abortSignal: signal,
            ...(system.length ? { systemInstruction: system.join('\n\n') } : {}),
            tools: [{ functionDeclarations: geminiDeclarations(offered) }],
            // The appliance runs tools itself, through approvals; the client must not call or resume anything.
            automaticFunctionCalling: { disable: true },
            automaticContinuation: false,
          },
        });
        let finish: string | undefined;
        for await (const chunk of stream) {
          if (chunk.promptFeedback?.blockReason) {
            yield refusedPrompt(chunk.promptFeedback.blockReason, chunk.promptFeedback.blockReasonMessage);
            return;
          }
          const candidate = chunk.candidates?.[0];
          for (const part of candidate?.content?.parts ?? []) {
            if (part.text && !part.thought) yield { type: 'text', text: part.text };
            if (part.functionCall) {
              const { id, name, args } = part.functionCall;
              yield parseToolCall({ id, name, arguments: args, signature: part.thoughtSignature }, offered);
            }
          }
          finish = candidate?.finishReason ?? finish;
          if (finish === 'MALFORMED_FUNCTION_CALL' || finish === 'UNEXPECTED_TOOL_CALL') {
            yield malformedCall(finish, candidate?.finishMessage);
          }
        }
        // Gemini has no end marker of its own: the last chunk carries the finish reason.
        if (finish === undefined) return;
        yield { type: 'done', reason: doneReason(finish) };
      },
      { signal: request.signal, idleTimeoutMs: this.settings.idleTimeoutMs },
      describeGeminiFailure,
    );
  }
}

function geminiDeclarations(names: readonly ToolName[]): FunctionDeclaration[] {
  return toolSpecs(names).map(({ name, description, parameters }) => ({
    name,
    description,
    parametersJsonSchema: parameters,
  }));
}

/** System messages go to systemInstruction; consecutive tool results travel together in one user turn. */
function toGeminiContents(messages: readonly ChatMessage[]): Content[] {
  const contents: Content[] = [];
  for (const message of messages) {
    if (message.role === 'system') continue;
    if (message.role === 'tool') {
      const part: Part = {
        functionResponse: {
          id: message.toolCallId,
          name: message.name,
          response: { output: message.content },
        },
      };
      const last = contents.at(-1);
      if (last?.role === 'user' && last.parts?.every((p) => p.functionResponse)) last.parts.push(part);
      else contents.push({ role: 'user', parts: [part] });
      continue;
    }
    if (message.role === 'user') {
      contents.push({ role: 'user', parts: [{ text: message.content }] });
      continue;
    }
    const parts: Part[] = message.content ? [{ text: message.content }] : [];
    for (const call of message.toolCalls ?? []) {
      parts.push({
        functionCall: { id: call.id, name: call.name, args: call.arguments },
        ...(call.signature ? { thoughtSignature: call.signature } : {}),
      });
    }
    contents.push({ role: 'model', parts });
  }
  return contents;
}

function doneReason(finish: string): DoneReason {
  if (finish === 'STOP') return 'stop';
  if (finish === 'MAX_TOKENS') return 'length';
  if (['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII'].includes(finish)) return 'refused';
  return 'other';
}

function malformedCall(finish: string, detail: string | undefined): ModelEvent {
  const why = detail ? `: ${detail.slice(0, 300)}` : '';
  return {
    type: 'tool_error',
    id: '',
    name: '',
    error: {
      code: 'TOOL_CALL_INVALID',
      message: `Gemini produced a tool call it could not form (${finish}${why}); nothing was run.`,
    },
  };
}

function refusedPrompt(reason: string, detail: string | undefined): ModelEvent {
  return {
    type: 'error',
    error: {
      code: 'MODEL_FAILED',
      message: `Gemini refused the conversation (${reason}${detail ? `: ${detail}` : ''}).`,
    },
  };
}

function describeGeminiFailure(error: unknown): ModelError {
  if (error instanceof ApiError) {
    // The client puts the whole error body, {"error": {"code", "message", "status"}}, in the message.
    const body = parseErrorBody(error.message);
    const status = body?.status ? ` ${body.status}` : '';
    const detail = body?.message ?? plainReason(error);
    const keyProblem = error.status === 401 || error.status === 403 || /API key/i.test(detail);
    const hint = keyProblem ? ' Check DROPOPS_GEMINI_API_KEY.' : '';
    return {
      code: 'MODEL_FAILED',
      message: `Gemini refused the request (HTTP ${error.status}${status}): ${detail.slice(0, 300)}${hint}`,
    };
  }
  if (isConnectionFailure(error)) {
    return {
      code: 'MODEL_UNAVAILABLE',
      message: `Gemini cannot be reached (${plainReason(error)}). Check the network.`,
    };
  }
  return { code: 'MODEL_FAILED', message: `Gemini failed: ${plainReason(error)}` };
}

function parseErrorBody(message: string): { message?: string; status?: string } | undefined {
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  try {
    const parsed = JSON.parse(message.slice(start)) as { error?: { message?: string; status?: string } };
    return parsed.error;
  } catch {
    return undefined;
  }
}
