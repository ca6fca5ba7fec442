import type { Classification } from '../policy/classify.ts';
import { list, nodeType, parseShell, Redir, type ShNode } from '../policy/parse.ts';
import { resolveWord } from '../policy/words.ts';
import {
  expandArgument,
  expandHeredoc,
  expandHereString,
  expandTarget,
  Unplannable,
  type ExpandContext,
} from './expand.ts';

/**
 * One file-descriptor change, applied in order like bash does: `null` points the descriptor at /dev/null,
 * `dup` makes it a copy of another (`2>&1`), `file` opens a file for reading (`< f`), `data` feeds a
 * here-document or here-string.
 */
export type IoOp =
  | { op: 'null'; fd: 0 | 1 | 2 }
  | { op: 'dup'; fd: 1 | 2; from: 1 | 2 }
  | { op: 'file'; fd: 0; path: string }
  | { op: 'data'; fd: 0; data: string };

/** What the executor runs, without a shell: every word is already the literal argument it becomes. */
export type PlanNode =
  /** `program` is the absolute path argv[0] resolves to; `preparePlan` sets it. */
  | { kind: 'command'; argv: string[]; io: IoOp[]; program?: string }
  /** `{ …; }`, `( … )` and the top level: statements run in turn with the same descriptors. */
  | { kind: 'group'; body: PlanNode[]; io: IoOp[] }
  /** Only the first stage may be a group: nothing but a single command may read a pipe. */
  | { kind: 'pipeline'; stages: PlanNode[] }
  | { kind: 'and' | 'or'; left: PlanNode; right: PlanNode }
  | { kind: 'not'; node: PlanNode };

export interface Plan {
  kind: 'plan';
  command: string;
  root: PlanNode;
}

export interface PlanRefusal {
  kind: 'refusal';
  /** The construct the plan cannot reproduce, as the approval reason will name it. */
  construct: string;
  reason: string;
}

const Op = { And: 10, Or: 11, Pipe: 12, PipeAll: 13 } as const;
const refuse = (construct: string): never => {
  throw new Unplannable(construct);
};

function fdOf(r: ShNode, fallback: 0 | 1): number {
  const n = (r.N as ShNode | null)?.Value;
  return n === undefined || n === null ? fallback : Number(n);
}

function outputFd(fd: number): 1 | 2 {
  if (fd === 1 || fd === 2) return fd;
  return refuse(`output redirection of file descriptor ${fd}`);
}

/** `>/dev/null`, `>/dev/stderr` and friends; the classifier allows no other output target. */
function sinkOps(fd: 1 | 2, target: string): IoOp[] {
  if (target === '/dev/null') return [{ op: 'null', fd }];
  if (target === '/dev/stdout') return fd === 1 ? [] : [{ op: 'dup', fd, from: 1 }];
  if (target === '/dev/stderr') return fd === 2 ? [] : [{ op: 'dup', fd, from: 2 }];
  return refuse(`redirection to the file "${target}"`);
}

function redirectOps(r: ShNode, ctx: ExpandContext): IoOp[] {
  const op = Number(r.Op);
  const word = r.Word as ShNode;
  switch (op) {
    case Redir.In: {
      if (fdOf(r, 0) !== 0) refuse(`input redirection of file descriptor ${fdOf(r, 0)}`);
      const path = expandTarget(word, ctx);
      if (path === '/dev/stdin') return [];
      return path === '/dev/null' ? [{ op: 'null', fd: 0 }] : [{ op: 'file', fd: 0, path }];
    }
    case Redir.Out:
    case Redir.Append:
    case Redir.Clobber:
      return sinkOps(outputFd(fdOf(r, 1)), expandTarget(word, ctx));
    case Redir.All:
    case Redir.AppendAll: {
      // `&>t` is `>t 2>&1`.
      const target = expandTarget(word, ctx);
      return [...sinkOps(1, target), { op: 'dup', fd: 2, from: 1 }];
    }
    case Redir.DupOut: {
      const fd = outputFd(fdOf(r, 1));
      const to = expandTarget(word, ctx);
      if (to !== '1' && to !== '2') return refuse(`descriptor redirection "${fd}>&${to}"`);
      return Number(to) === fd ? [] : [{ op: 'dup', fd, from: Number(to) as 1 | 2 }];
    }
    case Redir.DupIn: {
      const to = expandTarget(word, ctx);
      if (fdOf(r, 0) === 0 && to === '0') return [];
      return refuse(`descriptor redirection "${fdOf(r, 0)}<&${to}"`);
    }
    case Redir.Heredoc:
    case Redir.DashHeredoc:
      if (fdOf(r, 0) !== 0) refuse(`here-document on file descriptor ${fdOf(r, 0)}`);
      return [{ op: 'data', fd: 0, data: expandHeredoc(r, op === Redir.DashHeredoc, ctx) }];
    case Redir.HereString:
      if (fdOf(r, 0) !== 0) refuse(`here-string on file descriptor ${fdOf(r, 0)}`);
      return [{ op: 'data', fd: 0, data: expandHereString(word, ctx) + '\n' }];
    default:
      return refuse(`redirection operator ${op}`);
  }
}

function callNode(call: ShNode, io: IoOp[], ctx: ExpandContext): PlanNode {
  if (list(call.Assigns).length > 0) refuse('variable assignment');
  const argv: string[] = [];
  for (const word of list(call.Args)) {
    const fields = expandArgument(word, ctx);
    // Guard: a word the classifier saw as a plain literal must run as exactly that literal.
    const seen = resolveWord(word);
    const tilde = String(list(word.Parts)[0]?.Value ?? '').startsWith('~');
    if (seen.literal && !tilde && (fields.length !== 1 || fields[0] !== seen.text))
      refuse(`word "${seen.text}" that the executor would expand differently from the classifier`);
    argv.push(...fields);
  }
  if (argv.length === 0) refuse('a command whose words expand to nothing');
  return { kind: 'command', argv, io };
}

/** Stages of a pipeline; `a | b | c` nests to the left. `|&` adds `2>&1` after the left stage's redirections. */
function pipelineStages(cmd: ShNode, ctx: ExpandContext): PlanNode[] {
  const left = cmd.X as ShNode;
  const leftCmd = left.Cmd as ShNode | null;
  const nested =
    leftCmd &&
    nodeType(leftCmd) === 'BinaryCmd' &&
    (Number(leftCmd.Op) === Op.Pipe || Number(leftCmd.Op) === Op.PipeAll) &&
    !left.Negated &&
    list(left.Redirs).length === 0;
  const stages = nested ? pipelineStages(leftCmd, ctx) : [stmtNode(left, ctx)];
  const last = stages.at(-1)!;
  if (Number(cmd.Op) === Op.PipeAll) {
    if (last.kind !== 'command' && last.kind !== 'group') refuse('"|&" after a negated pipeline');
    (last as { io: IoOp[] }).io.push({ op: 'dup', fd: 2, from: 1 });
  }
  const right = stmtNode(cmd.Y as ShNode, ctx);
  if (right.kind !== 'command') refuse('a group, list or negation that reads from a pipe');
  return [...stages, right];
}

function commandNode(cmd: ShNode, io: IoOp[], ctx: ExpandContext): PlanNode {
  const type = nodeType(cmd);
  switch (type) {
    case 'CallExpr':
      return callNode(cmd, io, ctx);
    case 'Subshell':
    case 'Block':
      return { kind: 'group', body: list(cmd.Stmts).map((s) => stmtNode(s, ctx)), io };
    case 'BinaryCmd': {
      const op = Number(cmd.Op);
      const node: PlanNode =
        op === Op.And || op === Op.Or
          ? {
              kind: op === Op.And ? 'and' : 'or',
              left: stmtNode(cmd.X as ShNode, ctx),
              right: stmtNode(cmd.Y as ShNode, ctx),
            }
          : op === Op.Pipe || op === Op.PipeAll
            ? { kind: 'pipeline', stages: pipelineStages(cmd, ctx) }
            : refuse(`operator ${op}`);
      return io.length > 0 ? { kind: 'group', body: [node], io } : node;
    }
    case 'TimeClause':
      return refuse('the "time" keyword');
    default:
      return refuse(`shell construct ${type}`);
  }
}

function stmtNode(stmt: ShNode, ctx: ExpandContext): PlanNode {
  if (stmt.Background) refuse('background job "&"');
  if (stmt.Coprocess) refuse('coprocess');
  const io = list(stmt.Redirs).flatMap((r) => redirectOps(r, ctx));
  const cmd = stmt.Cmd as ShNode | null;
  if (!cmd) return refuse('a redirection without a command');
  const node = commandNode(cmd, io, ctx);
  if (node.kind === 'group' && io.some((o) => o.op === 'data'))
    refuse('a here-document feeding a group of commands');
  return stmt.Negated ? { kind: 'not', node } : node;
}

/**
 * Turns a command line the classifier judged `auto` into the plan the executor runs without a shell,
 * from the same parser and the same word resolution the classifier used. Words are expanded here, against
 * the executor's own environment and working directory: what the plan holds is exactly what runs. Anything
 * it cannot reproduce exactly is a refusal naming the construct; the caller then needs an approval.
 */
export function planCommand(
  command: string,
  classification: Classification,
  ctx: ExpandContext,
): Plan | PlanRefusal {
  const refusal = (construct: string): PlanRefusal => ({
    kind: 'refusal',
    construct,
    reason: `the executor cannot run ${construct} without a shell`,
  });
  if (classification.verdict !== 'auto')
    return { kind: 'refusal', construct: 'a command that is not auto', reason: classification.reason };
  const root = parseShell(command);
  if (!root) return refusal('a command that does not parse');
  try {
    return {
      kind: 'plan',
      command,
      root: { kind: 'group', body: list(root.Stmts).map((s) => stmtNode(s, ctx)), io: [] },
    };
  } catch (err) {
    if (err instanceof Unplannable) return refusal(err.construct);
    throw err;
  }
}

/** Every simple command's argv in the order they appear: what the audit record lists. */
export function planArgv(node: PlanNode): string[][] {
  switch (node.kind) {
    case 'command':
      return [node.argv];
    case 'group':
      return node.body.flatMap(planArgv);
    case 'pipeline':
      return node.stages.flatMap(planArgv);
    case 'and':
    case 'or':
      return [...planArgv(node.left), ...planArgv(node.right)];
    case 'not':
      return planArgv(node.node);
  }
}
