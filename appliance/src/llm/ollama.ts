import { Ollama, type Message, type Tool } from 'ollama';
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

export interface OllamaSettings {
  host: string;
  model: string;
  idleTimeoutMs: number;
  /** Shown with the model's name, e.g. that the model still has to be pulled. */
  notice?: string;
}

/** A local or self-hosted model through Ollama's /api/chat, with the official `ollama` client. */
export class OllamaChatModel implements ChatModel {
  readonly info: ModelInfo;

  constructor(private readonly settings: OllamaSettings) {
    this.info = {
      provider: 'ollama',
      model: settings.model,
      ...(settings.notice ? { notice: settings.notice } : {}),
    };
  }

  chat(request: ChatRequest): AsyncIterable<ModelEvent> {
    const offered = request.tools ?? TOOL_NAMES;
    const { host, model } = this.settings;
    return guardedStream(
      `Ollama at ${host}`,
      async function* (signal) {
        const stream = await clientFor(host, signal).chat({
          model,
          messages: request.messages.map(toOllamaMessage),
          tools: ollamaTools(offered),
          stream: true,
        });
        for await (const part of stream) {
          if (part.message?.content) yield { type: 'text', text: part.message.content };
          for (const call of part.message?.tool_calls ?? []) {
            const { id, function: fn } = call as typeof call & { id?: string };
            yield parseToolCall({ id, name: fn?.name, arguments: fn?.arguments }, offered);
          }
          if (part.done) {
            yield { type: 'done', reason: doneReason(part.done_reason) };
            return;
          }
        }
      },
      { signal: request.signal, idleTimeoutMs: this.settings.idleTimeoutMs },
      (error) => describeOllamaFailure(error, host, model),
    );
  }
}

/**
 * A client whose every request carries `signal`. The library aborts only streams it has already opened;
 * this also covers the wait for the response headers (a model still loading, or a hung server).
 */
export function clientFor(host: string, signal: AbortSignal): Ollama {
  return new Ollama({
    host,
    fetch: (input, init) =>
      fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal }),
  });
}

function ollamaTools(names: readonly ToolName[]): Tool[] {
  return toolSpecs(names).map(({ name, description, parameters }) => ({
    type: 'function',
    function: { name, description, parameters: parameters as NonNullable<Tool['function']['parameters']> },
  }));
}

function toOllamaMessage(message: ChatMessage): Message {
  switch (message.role) {
    case 'assistant':
      return {
        role: 'assistant',
        content: message.content,
        ...(message.toolCalls?.length
          ? {
              tool_calls: message.toolCalls.map((c) => ({
                function: { name: c.name, arguments: c.arguments },
              })),
            }
          : {}),
      };
    case 'tool':
      return { role: 'tool', content: message.content, tool_name: message.name };
    default:
      return { role: message.role, content: message.content };
  }
}

function doneReason(reason: string | undefined): DoneReason {
  if (reason === 'stop' || reason === undefined || reason === '') return 'stop';
  return reason === 'length' ? 'length' : 'other';
}

function describeOllamaFailure(error: unknown, host: string, model: string): ModelError {
  if (isConnectionFailure(error)) {
    return {
      code: 'MODEL_UNAVAILABLE',
      message: `Ollama at ${host} cannot be reached (${connectionReason(error)}). Start it (ollama serve) or set DROPOPS_OLLAMA_URL.`,
    };
  }
  const reason = plainReason(error).replace(/\.$/, '');
  // The library's ResponseError: the server answered with a status and {"error": "..."}.
  const status = (error as { status_code?: number }).status_code;
  if (typeof status === 'number') {
    const hint = status === 404 ? ` Pull the model (ollama pull ${model}) or set DROPOPS_OLLAMA_MODEL.` : '';
    return {
      code: 'MODEL_FAILED',
      message: `Ollama refused the request (HTTP ${status}): ${reason}.${hint}`,
    };
  }
  // The library's words for a stream that ended without its final `done` line.
  if (reason.startsWith('Did not receive done')) {
    return {
      code: 'MODEL_FAILED',
      message: 'Ollama closed the stream before the model finished its answer. Try again.',
    };
  }
  // Otherwise an {"error": "..."} line mid-stream, which the library throws as is.
  return { code: 'MODEL_FAILED', message: `Ollama failed: ${reason}.` };
}

function connectionReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code === 'ECONNREFUSED' ? 'connection refused' : (cause?.code ?? plainReason(error));
}
