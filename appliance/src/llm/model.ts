import type { ToolCall, ToolName } from './tools.ts';

/**
 * The one interface every language model sits behind (Ollama, Gemini, or none).
 *
 * What the model can do is exactly what `tools.ts` defines: propose a command, read or write a file
 * (through the operator, which classifies and, for anything but a read-only command, waits for a
 * human approval token), fetch a host's history and list operators. No tool approves, denies or
 * executes anything by itself, and no text the model writes is ever parsed as an instruction: a tool
 * call is only a request the conversation layer routes through the same approval path as a command the
 * user typed. Model output that is not a valid call of one of those tools becomes a `tool_error`
 * event, shown and fed back to the model, and is never executed.
 */
export interface ChatModel {
  /** Which adapter answers and with what model, for the console's header and the logs. */
  readonly info: ModelInfo;
  /**
   * Streams one assistant turn. The stream always ends with exactly one terminal event, `done` or
   * `error`, and never throws: a failure of the model server, a silence longer than the idle timeout
   * (`MODEL_TIMEOUT`) and `signal` being aborted (`CANCELLED`, the stop button) all arrive as `error`.
   * Aborting closes the connection to the model server.
   */
  chat(request: ChatRequest): AsyncIterable<ModelEvent>;
}

export interface ModelInfo {
  provider: 'ollama' | 'gemini' | 'none';
  /** The model name, or null when no model is connected. */
  model: string | null;
  /** A sentence for the user, e.g. that no model is connected and commands are typed directly. */
  notice?: string;
}

export interface ChatRequest {
  messages: readonly ChatMessage[];
  /** The tools offered for this turn; all of them when absent. */
  tools?: readonly ToolName[];
  signal?: AbortSignal;
}

/** The transcript as the appliance keeps it; each adapter maps it to its provider's wire format. */
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: readonly ToolCall[] }
  /** A tool's result (already redacted and cut by the operator), answering the call with this id. */
  | { role: 'tool'; toolCallId: string; name: string; content: string };

export type ModelErrorCode =
  'MODEL_UNAVAILABLE' | 'MODEL_FAILED' | 'MODEL_TIMEOUT' | 'CANCELLED' | 'TOOL_CALL_INVALID' | 'NO_MODEL';

/** A code a program branches on and a sentence a person can act on; never a stack trace. */
export interface ModelError {
  code: ModelErrorCode;
  message: string;
}

/** How a turn finished: the model stopped, hit its output limit, refused (safety), or something else. */
export type DoneReason = 'stop' | 'length' | 'refused' | 'other';

export type ModelEvent =
  /** A piece of the answer, in order. */
  | { type: 'text'; text: string }
  /** A call of a known tool whose arguments passed its schema. */
  | { type: 'tool_call'; call: ToolCall }
  /** Output that is not a valid tool call; the stream goes on and nothing is executed. */
  | {
      type: 'tool_error';
      error: ModelError & { code: 'TOOL_CALL_INVALID' };
      /** The call's id and name as the model gave them, so the conversation can answer it (empty when none). */
      id: string;
      name: string;
    }
  | { type: 'done'; reason: DoneReason }
  /** Terminal: the turn ended without finishing. */
  | { type: 'error'; error: ModelError };
