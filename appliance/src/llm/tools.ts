import { randomUUID } from 'node:crypto';
import { CreateOperatorRequest, ExecRequest } from '@dropops/protocol';
import { z } from 'zod';
import type { ModelEvent } from './model.ts';

// The tools the model may call, defined once: each adapter turns these schemas into its provider's
// JSON-schema format, and every call that comes back is checked against the same schema.
//
// None of them approves, denies or executes anything by itself. `run_command` and `write_file` are
// proposals: the operator runs a command at once only when its own classifier judges it read-only, and
// anything else waits for a human approval token. There is deliberately no approve tool.

const operator = CreateOperatorRequest.shape.name.describe(
  'The operator (host) name, as list_operators gives it.',
);
const absolutePath = z
  .string()
  .min(2)
  .max(4096)
  .regex(/^\/[^\0]*$/, 'a path is absolute and has no NUL byte')
  .describe('An absolute path on that host.');

const TOOL_DEFINITIONS = {
  run_command: {
    description:
      'Run a shell command on one or more hosts, in the order given. Read-only commands run at once; ' +
      'anything else is shown to a human who approves or denies it.',
    parameters: z
      .object({
        operators: z.array(operator).min(1).max(100).describe('The hosts to run it on, in order.'),
        command: ExecRequest.shape.command.describe('The exact command line.'),
        explanation: z.string().min(1).max(2000).describe('In plain words, what it does and why.'),
        risk: z.enum(['low', 'medium', 'high']).describe('Your estimate of the harm if it goes wrong.'),
      })
      .strict(),
  },
  read_file: {
    description: 'Read a file on one host (redacted and cut on the host before you see it).',
    parameters: z.object({ operator, path: absolutePath }).strict(),
  },
  write_file: {
    description: 'Change a file on one host with a unified diff; a human approves it first.',
    parameters: z
      .object({
        operator,
        path: absolutePath,
        diff: z
          .string()
          .min(1)
          .max(128 * 1024)
          .describe('A unified diff against the current file.'),
      })
      .strict(),
  },
  fetch_session_history: {
    description: "Fetch one host's own audit history (commands, approvals, file changes) for this session.",
    parameters: z.object({ operator }).strict(),
  },
  list_operators: {
    description: 'List the hosts bound to this conversation, with their status.',
    parameters: z.object({}).strict(),
  },
} as const;

type Definitions = typeof TOOL_DEFINITIONS;
export type ToolName = keyof Definitions;
export const TOOL_NAMES = Object.keys(TOOL_DEFINITIONS) as ToolName[];

/** A validated call: a known tool and arguments that passed its schema. */
export type ToolCall = {
  [K in ToolName]: {
    id: string;
    name: K;
    arguments: z.infer<Definitions[K]['parameters']>;
    /** Opaque provider state to send back with the call in the transcript (Gemini's thoughtSignature). */
    signature?: string;
  };
}[ToolName];

export interface ToolSpec {
  name: ToolName;
  description: string;
  /** JSON Schema (draft 2020-12) of the arguments object. */
  parameters: Record<string, unknown>;
}

/** The provider-neutral JSON-schema form of the tools offered; adapters wrap it in their own envelope. */
export function toolSpecs(names: readonly ToolName[] = TOOL_NAMES): ToolSpec[] {
  return names.map((name) => {
    const parameters: Record<string, unknown> = z.toJSONSchema(TOOL_DEFINITIONS[name].parameters);
    // Providers take the schema inline; the dialect marker only confuses stricter ones.
    delete parameters.$schema;
    return { name, description: TOOL_DEFINITIONS[name].description, parameters };
  });
}

/** What a provider handed back as a tool call, before it is trusted. */
export interface RawToolCall {
  id?: string;
  name?: string;
  /** An object, or a JSON string some servers send instead. */
  arguments?: unknown;
  signature?: string;
}

/**
 * Checks a call against the tools offered. The answer is an event either way: `tool_call` when it is
 * valid, else `tool_error` (unknown or not offered tool, malformed JSON, arguments off the schema).
 */
export function parseToolCall(raw: RawToolCall, offered: readonly ToolName[] = TOOL_NAMES): ModelEvent {
  const id = raw.id || randomUUID();
  const name = raw.name ?? '';
  const invalid = (why: string): ModelEvent => ({
    type: 'tool_error',
    id,
    name,
    error: { code: 'TOOL_CALL_INVALID', message: `${why}; nothing was run.`.slice(0, 1000) },
  });
  if (!(offered as readonly string[]).includes(name)) {
    return invalid(
      `The model called "${name.slice(0, 80)}", which is not one of its tools (${offered.join(', ')})`,
    );
  }
  const tool = name as ToolName;
  let args = raw.arguments ?? {};
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      return invalid(`The model's call of ${tool} did not carry valid JSON arguments`);
    }
  }
  const parsed = TOOL_DEFINITIONS[tool].parameters.safeParse(args);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`);
    return invalid(`The model's call of ${tool} had invalid arguments (${problems.join('; ')})`);
  }
  const call = { id, name: tool, arguments: parsed.data, signature: raw.signature } as ToolCall;
  if (call.signature === undefined) delete call.signature;
  return { type: 'tool_call', call };
}
