import { globMatch } from './glob.ts';
import { SYSTEM_PROGRAM } from './paths.ts';
import { defaultPolicy, type DenyRule, type Policy } from './policy.ts';
import { protectedWrite, type ProtectOptions } from './protected.ts';
import { list, nodeType, parseShell, Redir, walk, type ShNode } from './parse.ts';
import { knownUnsafe, programs } from './programs/index.ts';
import { unwrap } from './programs/wrappers.ts';
import { matchSpec } from './spec.ts';
import { resolveWord, type WordInfo } from './words.ts';

export type Verdict = 'auto' | 'approve' | 'deny';
export interface Classification {
  verdict: Verdict;
  reason: string;
}

const approve = (reason: string): Classification => ({ verdict: 'approve', reason });
const deny = (reason: string): Classification => ({ verdict: 'deny', reason });

const SAFE_SINKS = new Set(['/dev/null', '/dev/stdout', '/dev/stderr']);
const RUNS_CODE = new Set(['eval', 'exec', 'source', '.', 'builtin', 'trap', 'alias']);
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'busybox']);
// Wrappers without a specification of their own; for the denylist only, their command is found leniently.
const LOOSE_WRAPPERS = new Set([
  'exec',
  'nohup',
  'setsid',
  'time',
  'watch',
  'strace',
  'ltrace',
  'unbuffer',
  'chrt',
  'taskset',
  'builtin',
  'flock',
  'runuser',
  'nsenter',
  'unshare',
  'systemd-run',
  'script',
  'caffeinate',
  'firejail',
]);
const OPS: Record<number, string> = {
  [Redir.Out]: '>',
  [Redir.Append]: '>>',
  [Redir.In]: '<',
  [Redir.InOut]: '<>',
  [Redir.DupIn]: '<&',
  [Redir.DupOut]: '>&',
  [Redir.Clobber]: '>|',
  [Redir.Heredoc]: '<<',
  [Redir.DashHeredoc]: '<<-',
  [Redir.HereString]: '<<<',
  [Redir.All]: '&>',
  [Redir.AppendAll]: '&>>',
};

/** `//`, `/./` and the like are the root too. */
const normalizeArg = (text: string) =>
  /^\/[/.]*$/.test(text) && !text.includes('..') ? '/' : /^\/[/.]*\/?\*$/.test(text) ? '/*' : text;

const baseName = (text: string) => text.slice(text.lastIndexOf('/') + 1);

function ruleHits(rule: DenyRule, name: string, args: WordInfo[]): boolean {
  if (!globMatch(rule.program, name)) return false;
  if (!rule.anyArg) return true;
  return args.some((a) =>
    rule.anyArg!.some((g) => globMatch(g, normalizeArg(a.text)) || globMatch(g, a.text)),
  );
}

interface Context {
  policy: Policy;
  commands: number;
}

/** Finds denied programs anywhere: substitutions, function bodies, wrappers, `sh -c` and `eval` strings. */
function denyScan(root: ShNode, policy: Policy, level: number): Classification | null {
  let found: Classification | null = null;
  walk(root, (node) => {
    if (found || nodeType(node) !== 'CallExpr') return;
    found = denyWords(list(node.Args).map(resolveWord), policy, level);
  });
  return found;
}

function denyWords(words: WordInfo[], policy: Policy, level: number): Classification | null {
  for (let hops = 0; hops < 16 && words.length > 0; hops++) {
    const head = words[0]!;
    if (!head.literal)
      return policy.mode === 'allowlist'
        ? deny(`non-literal program "${head.text}" in allowlist mode`)
        : null;
    const name = baseName(head.text);
    const args = words.slice(1);
    const rule = policy.deny.find((r) => ruleHits(r, name, args));
    if (rule)
      return deny(
        `program "${name}" is denied by policy rule "${rule.program}${rule.anyArg ? ' ' + rule.anyArg.join('|') : ''}"`,
      );
    if (policy.mode === 'allowlist' && !policy.allow.includes(name))
      return deny(`program "${name}" is not in the allowlist`);
    if (level < 4 && (name === 'eval' || (SHELLS.has(name) && args.some((a) => a.text === '-c')))) {
      const script =
        name === 'eval' ? args : args.slice(args.findIndex((a) => a.text === '-c') + 1, undefined);
      const inner = parseShell(script.map((a) => a.text).join(name === 'eval' ? ' ' : '\n'));
      const hit = inner && denyScan(inner, policy, level + 1);
      if (hit) return hit;
    }
    const wrapped = unwrap(name, args);
    if (wrapped) words = wrapped.command;
    else if (LOOSE_WRAPPERS.has(name) || name === 'busybox') {
      let i = 0;
      while (
        i < args.length &&
        (args[i]!.text.startsWith('-') || /^[\d.]+[a-z]?$/.test(args[i]!.text) || /^\w+=/.test(args[i]!.text))
      )
        i++;
      words = args.slice(i);
    } else return null;
  }
  return null;
}

/** Thrown to stop the walk as soon as a denied program is found. */
class Denied {
  constructor(readonly result: Classification) {}
}

/** The parser's generic walker is slow, so it only runs over parts the strict pass does not descend into. */
function denyBelow(node: ShNode, ctx: Context): void {
  const hit = denyScan(node, ctx.policy, 0);
  if (hit) throw new Denied(hit);
}

const first = (a: string | null, b: string | null) => a ?? b;

function checkWord(w: WordInfo, node: ShNode, ctx: Context, depth: number): string | null {
  // Expansions with operators may hide substitutions that resolveWord does not collect.
  if (w.problem) denyBelow(node, ctx);
  let reason: string | null = w.problem ?? null;
  for (const stmts of w.substitutions) {
    const inner = checkStmts(stmts, ctx, depth + 1);
    reason = first(reason, inner && `substitution: ${inner}`);
  }
  return reason;
}

function checkRedirect(r: ShNode, ctx: Context, depth: number): string | null {
  const op = Number(r.Op);
  const word = r.Word ? resolveWord(r.Word as ShNode) : undefined;
  const shown = `${OPS[op] ?? '?'} ${word?.text ?? ''}`.trim();
  const reason = word ? checkWord(word, r.Word as ShNode, ctx, depth) : null;
  if (reason) return reason;
  switch (op) {
    case Redir.In:
    case Redir.HereString:
      return null;
    case Redir.Heredoc:
    case Redir.DashHeredoc: {
      if (!r.Hdoc) return null;
      const body = resolveWord(r.Hdoc as ShNode);
      return checkWord({ ...body, multi: false }, r.Hdoc as ShNode, ctx, depth);
    }
    case Redir.DupIn:
    case Redir.DupOut:
      return word?.literal && /^(\d+-?|-)$/.test(word.text) ? null : `redirection to a file "${shown}"`;
    case Redir.Out:
    case Redir.Append:
    case Redir.Clobber:
    case Redir.All:
    case Redir.AppendAll:
      return word?.literal && SAFE_SINKS.has(word.text) ? null : `redirection to a file "${shown}"`;
    default:
      return `redirection "${shown}" opens a file for writing`;
  }
}

function checkStmts(stmts: ShNode[], ctx: Context, depth: number): string | null {
  if (depth > ctx.policy.limits.maxDepth) {
    for (const stmt of stmts) denyBelow(stmt, ctx);
    return `nesting deeper than ${ctx.policy.limits.maxDepth}`;
  }
  // Every statement is visited even after a reason is found, so a denied program anywhere is seen.
  let reason: string | null = null;
  for (const stmt of stmts) reason = first(reason, checkStmt(stmt, ctx, depth));
  return reason;
}

function checkStmt(stmt: ShNode, ctx: Context, depth: number): string | null {
  let reason: string | null = stmt.Background ? 'background job "&"' : null;
  for (const r of list(stmt.Redirs)) reason = first(reason, checkRedirect(r, ctx, depth));
  const cmd = stmt.Cmd as ShNode | null;
  return cmd ? first(reason, checkCommand(cmd, ctx, depth)) : reason;
}

function checkCommand(cmd: ShNode, ctx: Context, depth: number): string | null {
  const type = nodeType(cmd);
  switch (type) {
    case 'CallExpr':
      return checkCall(cmd, ctx, depth);
    case 'BinaryCmd':
      // Chains nest to the left; they are not deeper for it.
      return first(checkStmt(cmd.X as ShNode, ctx, depth), checkStmt(cmd.Y as ShNode, ctx, depth));
    case 'Subshell':
    case 'Block':
      return checkStmts(list(cmd.Stmts), ctx, depth + 1);
    case 'TimeClause':
      return cmd.Stmt ? checkStmt(cmd.Stmt as ShNode, ctx, depth + 1) : null;
  }
  denyBelow(cmd, ctx);
  switch (type) {
    case 'FuncDecl':
      return `function definition "${String((cmd.Name as ShNode | null)?.Value ?? '')}"`;
    case 'DeclClause':
      return `declaration "${String((cmd.Variant as ShNode | null)?.Value ?? '')}" changes the shell`;
    case 'CoprocClause':
      return 'coprocess "coproc"';
    default:
      return `shell construct ${type} is not supported`;
  }
}

function checkCall(call: ShNode, ctx: Context, depth: number): string | null {
  const assign = list(call.Assigns)[0];
  const args = list(call.Args);
  const words = args.map(resolveWord);
  const denied = denyWords(words, ctx.policy, 0);
  if (denied) throw new Denied(denied);
  if (assign) denyBelow(call, ctx);
  let reason: string | null =
    ++ctx.commands > ctx.policy.limits.maxCommands
      ? `more than ${ctx.policy.limits.maxCommands} simple commands`
      : null;
  words.forEach((w, i) => (reason = first(reason, checkWord(w, args[i]!, ctx, depth))));
  if (reason) return reason;
  if (assign) {
    const name = String((assign.Name as ShNode | null)?.Value ?? '');
    return words.length === 0
      ? `variable assignment "${name}=…"`
      : `assignment prefix "${name}=…" changes how "${words[0]!.text}" runs`;
  }
  return checkProgram(words, ctx, false);
}

function checkProgram(words: WordInfo[], ctx: Context, untrusted: boolean): string | null {
  const head = words[0];
  if (!head) return null;
  if (!head.literal) return `non-literal command "${head.text}"`;
  if (/[^\x21-\x7e]/.test(head.text)) return `non-ASCII or invisible character in command "${head.text}"`;
  if (head.text.includes('/') && !SYSTEM_PROGRAM.test(head.text))
    return `program path "${head.text}" is not in a system directory`;
  const name = baseName(head.text);
  const args = words.slice(1);
  if (RUNS_CODE.has(name)) return `"${name}" runs arbitrary code`;
  const wrapped = unwrap(name, args);
  if (wrapped) {
    if (wrapped.reason) return wrapped.reason;
    if (wrapped.lookup || wrapped.command.length === 0) return null;
    return checkProgram(wrapped.command, ctx, untrusted || wrapped.appends);
  }
  const spec = Object.hasOwn(programs, name) ? programs[name] : undefined;
  if (!spec) return `program "${name}" ${knownUnsafe[name] ?? 'is not known to be read-only'}`;
  if (!ctx.policy.auto.includes(name)) return `program "${name}" is not in the policy's auto list`;
  if (untrusted && !spec.harmlessArgs) return `"${name}" cannot take untrusted arguments from xargs`;
  return matchSpec(name, spec, args);
}

function classifyUnsafe(command: string, policy: Policy): Classification {
  if (typeof command !== 'string') return approve('command is not a string');
  if (command.length > policy.limits.maxLength)
    return approve(`command is too long (${command.length} characters)`);
  const root = parseShell(command);
  if (!root) return approve('command cannot be parsed');
  let reason: string | null;
  try {
    reason = checkStmts(list(root.Stmts), { policy, commands: 0 }, 0);
  } catch (err) {
    if (err instanceof Denied) return err.result;
    throw err;
  }
  const invisible = /[\p{Cf}\p{Co}\u2028\u2029]/u.exec(command);
  if (invisible)
    return approve(
      `invisible character U+${invisible[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} in command`,
    );
  return reason
    ? approve(reason)
    : { verdict: 'auto', reason: 'every command is a read-only program with accepted arguments' };
}

/**
 * Says whether a shell command line is provably read-only (auto), needs approval, or is refused (deny):
 * by the denylist, or because a path it is known to write is protected. `where` is the directory the
 * command runs in and the operator's state directory (by default the process's and its `.dropops`).
 */
export function classify(
  command: string,
  policy: Policy = defaultPolicy,
  where: Partial<ProtectOptions> = {},
): Classification {
  try {
    const result = classifyUnsafe(command, policy);
    if (result.verdict !== 'approve') return result;
    const refused = protectedWrite(command, policy, { stateDir: '.dropops', ...where });
    return refused ? deny(refused) : result;
  } catch (err) {
    return approve(`classifier error: ${(err as Error)?.message ?? String(err)}`);
  }
}
