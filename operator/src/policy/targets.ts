import { lstatSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { list, nodeType, parseShell, Redir, walk, type ShNode } from './parse.ts';
import { followedPath, isSink, isSinkPath, lexicalPath, physicalPath, SYSTEM_PROGRAM } from './paths.ts';
import { programs } from './programs/index.ts';
import { unwrap } from './programs/wrappers.ts';
import { matchSpec } from './spec.ts';
import { resolveWord, type WordInfo } from './words.ts';
import { writers, type RawTarget, type WriterContext } from './writers.ts';

/** The files a command line will write, create, delete, truncate, chmod/chown or rename. */
export interface WriteTargets {
  /** True when `paths` is every path the command can write; false when some cannot be known exactly. */
  known: boolean;
  /** Absolute physical paths (parents through their symlinks, no `.`/`..`) it may write; device sinks left out. */
  paths: string[];
  /** The subset of `paths` whose whole subtree may change (`rm -r`, `chmod -R`, `mv`, `cp -r`). */
  trees: string[];
  /** Why `known` is false, naming the token. */
  reason?: string;
}

/** A working directory the command may be in; null when it cannot be known (`cd $X`, `cd -`). */
type Dir = string | null;
/** The directories a statement may leave the shell in, after success and after failure. */
interface Flow {
  ok: Dir[];
  failed: Dir[];
}

const union = (...lists: Dir[][]): Dir[] => [...new Set(lists.flat())];
const same = (dirs: Dir[]): Flow => ({ ok: dirs, failed: dirs });
const any = (f: Flow) => union(f.ok, f.failed);

const baseName = (text: string) => text.slice(text.lastIndexOf('/') + 1);
const OUTPUTS = new Set<number>([
  Redir.Out,
  Redir.Append,
  Redir.Clobber,
  Redir.All,
  Redir.AppendAll,
  Redir.InOut,
]);
const And = 10;
const Or = 11;
// Builtins and programs that write no file and whose arguments are data.
const NO_WRITES = new Set([':', 'exit', 'set', 'shift', 'wait', 'sleep', 'kill']);
// Builtins that may move the shell to a directory not known here.
const MOVES_SHELL = new Set(['pushd', 'popd', 'source', '.', 'eval', 'exec', 'builtin']);

/** An unquoted `~` (leading, or after `=`/`:` in an assignment-like word) expands to a home directory. */
function hasTilde(word: ShNode): boolean {
  return list(word.Parts).some(
    (part, i) =>
      nodeType(part) === 'Lit' &&
      ((i === 0 && String(part.Value).startsWith('~')) || /[=:]~/.test(String(part.Value))),
  );
}

const LEADING_TILDE = /^((?:[A-Za-z_][A-Za-z0-9_]*=)?)~(?=\/|$)/;

/** A word as the shell will see it; `~` is expanded only when the home directory is known. */
function resolveArg(word: ShNode, home: string | undefined): WordInfo {
  const info = resolveWord(word);
  if (!info.literal || !hasTilde(word)) return info;
  const first = list(word.Parts)[0]!;
  if (home !== undefined && nodeType(first) === 'Lit' && LEADING_TILDE.test(String(first.Value))) {
    const text = info.text.replace(LEADING_TILDE, (_m, name: string) => name + home);
    return { ...info, text, prefix: text };
  }
  // `~user`, or a home directory not given: the word stops being literal.
  return { ...info, literal: false, prefix: '~' };
}

class Analysis {
  readonly paths = new Set<string>();
  readonly trees = new Set<string>();
  reason?: string;

  constructor(private readonly home: string | undefined) {}

  arg(word: ShNode): WordInfo {
    return resolveArg(word, this.home);
  }

  unknown(reason: string): void {
    this.reason ??= reason;
  }

  add(target: RawTarget, dir: Dir): void {
    if (!isAbsolute(target.path) && dir === null)
      return this.unknown(`relative path "${target.path}" after cd to a directory not known in advance`);
    const cwd = dir ?? '/';
    if (isSink(target.path, cwd)) return;
    const path = (target.follow ? followedPath : physicalPath)(target.path, cwd);
    if (isSinkPath(path)) return;
    this.paths.add(path);
    if (target.tree) this.trees.add(path);
  }

  stmts(stmts: ShNode[], dirs: Dir[]): Flow {
    let flow: Flow = { ok: dirs, failed: [] };
    for (const stmt of stmts) flow = this.stmt(stmt, any(flow));
    return flow;
  }

  stmt(stmt: ShNode, dirs: Dir[]): Flow {
    for (const r of list(stmt.Redirs)) this.redirect(r, dirs);
    const flow = stmt.Cmd ? this.command(stmt.Cmd as ShNode, dirs) : same(dirs);
    if (stmt.Background) return same(dirs);
    return stmt.Negated ? { ok: flow.failed, failed: flow.ok } : flow;
  }

  /** Substitutions run commands of their own, in a subshell: their writes count, their cd does not. */
  word(word: WordInfo, dirs: Dir[]): WordInfo {
    if (word.problem) this.unknown(word.problem);
    for (const stmts of word.substitutions) this.stmts(stmts, dirs);
    return word;
  }

  redirect(r: ShNode, dirs: Dir[]): void {
    const op = Number(r.Op);
    if (r.Hdoc) this.word(resolveWord(r.Hdoc as ShNode), dirs);
    if (!r.Word) return;
    const word = this.word(this.arg(r.Word as ShNode), dirs);
    const dup = op === Redir.DupOut || op === Redir.DupIn;
    if (dup && word.literal && /^(\d+-?|-)$/.test(word.text)) return;
    if (!OUTPUTS.has(op) && op !== Redir.DupOut) {
      if (op === Redir.DupIn) this.unknown(`redirection "<&${word.text}"`);
      return;
    }
    if (!word.literal) return this.unknown(`non-literal redirection target "${word.text}"`);
    for (const dir of dirs) this.add({ path: word.text, follow: true }, dir);
  }

  command(cmd: ShNode, dirs: Dir[]): Flow {
    switch (nodeType(cmd)) {
      case 'CallExpr':
        return this.call(cmd, dirs);
      case 'BinaryCmd': {
        const op = Number(cmd.Op);
        const x = this.stmt(cmd.X as ShNode, dirs);
        if (op === And) {
          const y = this.stmt(cmd.Y as ShNode, x.ok);
          return { ok: y.ok, failed: union(x.failed, y.failed) };
        }
        if (op === Or) {
          const y = this.stmt(cmd.Y as ShNode, x.failed);
          return { ok: union(x.ok, y.ok), failed: y.failed };
        }
        // Each side of a pipe runs in a subshell.
        this.stmt(cmd.Y as ShNode, dirs);
        return same(dirs);
      }
      case 'Subshell':
        this.stmts(list(cmd.Stmts), dirs);
        return same(dirs);
      case 'Block':
        return this.stmts(list(cmd.Stmts), dirs);
      case 'TimeClause':
        return cmd.Stmt ? this.stmt(cmd.Stmt as ShNode, dirs) : same(dirs);
      case 'IfClause':
        return this.ifClause(cmd, dirs);
      case 'WhileClause':
        return this.loop([...list(cmd.Cond), ...list(cmd.Do)], dirs);
      case 'ForClause': {
        const loop = cmd.Loop as ShNode;
        if (nodeType(loop) === 'WordIter') for (const w of list(loop.Items)) this.word(this.arg(w), dirs);
        else this.noSubstitutions(loop, 'C-style for loop');
        return this.loop(list(cmd.Do), dirs);
      }
      case 'CaseClause': {
        this.word(this.arg(cmd.Word as ShNode), dirs);
        const flows = list(cmd.Items).map((item) => {
          for (const p of list(item.Patterns)) this.word(this.arg(p), dirs);
          return any(this.stmts(list(item.Stmts), dirs));
        });
        return same(union(dirs, ...flows));
      }
      case 'TestClause':
        this.noSubstitutions(cmd, '[[ ]]', true);
        return same(dirs);
    }
    this.unknown(`shell construct ${nodeType(cmd)} ${this.describe(cmd)}`);
    return same(union(dirs, [null]));
  }

  describe(cmd: ShNode): string {
    const type = nodeType(cmd);
    if (type === 'FuncDecl')
      return `"${String((cmd.Name as ShNode | null)?.Value ?? '')}" may redefine any command`;
    if (type === 'ArithmCmd' || type === 'LetClause') return 'may run substitutions hidden in variables';
    return 'is not analysed';
  }

  /** `[[ ]]` and arithmetic write nothing unless they hide a substitution (directly or through a variable). */
  noSubstitutions(node: ShNode, what: string, variablesToo = false): void {
    walk(node, (n) => {
      const type = nodeType(n);
      if (
        type === 'CmdSubst' ||
        type === 'ProcSubst' ||
        (variablesToo && (type === 'ParamExp' || type === 'ArithmExp'))
      )
        this.unknown(`expansion inside ${what}`);
    });
  }

  ifClause(cmd: ShNode, dirs: Dir[]): Flow {
    const cond = list(cmd.Cond);
    // A plain `else` is an IfClause without a condition.
    if (cond.length === 0) return this.stmts(list(cmd.Then), dirs);
    const c = this.stmts(cond, dirs);
    const then = this.stmts(list(cmd.Then), c.ok);
    const otherwise = cmd.Else ? this.ifClause(cmd.Else as ShNode, c.failed) : { ok: c.failed, failed: [] };
    return { ok: union(then.ok, otherwise.ok), failed: union(then.failed, otherwise.failed) };
  }

  /** A loop body runs any number of times: a cd inside it leaves every later directory unknown. */
  loop(body: ShNode[], dirs: Dir[]): Flow {
    const after = any(this.stmts(body, dirs));
    if (after.every((d) => dirs.includes(d))) return same(dirs);
    const widened = union(dirs, after, [null]);
    this.stmts(body, widened);
    return same(widened);
  }

  call(call: ShNode, dirs: Dir[]): Flow {
    const assigns = list(call.Assigns);
    for (const a of assigns) if (a.Value) this.word(resolveWord(a.Value as ShNode), dirs);
    const words = list(call.Args).map((w) => this.word(this.arg(w), dirs));
    if (assigns.length > 0) {
      const name = String((assigns[0]!.Name as ShNode | null)?.Value ?? '');
      // PATH=, LD_PRELOAD= and the like can make any program write anything.
      this.unknown(`assignment "${name}=…" can change what later commands do`);
      return same(dirs);
    }
    return this.program(words, dirs);
  }

  /** `builtins`: the shell itself runs the command, so `cd` moves it (not so under timeout, env…). */
  program(words: WordInfo[], dirs: Dir[], builtins = true): Flow {
    const head = words[0];
    if (!head) return same(dirs);
    if (!head.literal) {
      this.unknown(`non-literal command "${head.text}"`);
      return same(dirs);
    }
    if (head.text.includes('/') && !SYSTEM_PROGRAM.test(head.text)) {
      this.unknown(`program path "${head.text}" is not in a system directory`);
      return same(dirs);
    }
    const name = baseName(head.text);
    const args = words.slice(1);
    const builtin = builtins && !head.text.includes('/');
    if (name === 'cd') return builtin ? this.cd(args, dirs) : same(dirs);
    if (NO_WRITES.has(name)) return same(dirs);
    if (builtin && MOVES_SHELL.has(name)) {
      this.unknown(`"${name}" runs code or moves the shell in ways not known in advance`);
      return same(union(dirs, [null]));
    }
    const wrapped = unwrap(name, args);
    if (wrapped) {
      if (wrapped.reason) this.unknown(wrapped.reason);
      else if (wrapped.appends) this.unknown(`"${name}" runs a command with words from its input`);
      else if (!wrapped.lookup) return this.program(wrapped.command, dirs, builtin && name === 'command');
      return same(dirs);
    }
    const readOnly = Object.hasOwn(programs, name) ? programs[name] : undefined;
    const readOnlyReason = readOnly ? matchSpec(name, readOnly, args) : undefined;
    if (readOnlyReason === null) return same(dirs);
    const writer = Object.hasOwn(writers, name) ? writers[name] : undefined;
    if (!writer) {
      this.unknown(
        readOnlyReason ? `${name}: ${readOnlyReason}` : `program "${name}" has no write-target specification`,
      );
      return same(dirs);
    }
    for (const dir of dirs) {
      const result = writer(args, contextIn(dir), name);
      if ('unknown' in result) {
        this.unknown(result.unknown);
        break;
      }
      for (const target of result) this.add(target, dir);
    }
    return same(dirs);
  }

  /** `cd DIR` moves later commands of the same shell; CDPATH, `-` and HOME make the place unknown. */
  cd(args: WordInfo[], dirs: Dir[]): Flow {
    const operands = args.filter((a) => !(a.literal && /^(-[LPe]+|--)$/.test(a.text)));
    const physical = args.some((a) => a.literal && /^-[LPe]*P[LPe]*$/.test(a.text));
    const target = operands.length === 1 ? operands[0]! : undefined;
    // A relative name without ./ or ../ may be looked up in CDPATH.
    if (!target?.literal || !(target.text.startsWith('/') || /^\.\.?(\/|$)/.test(target.text))) {
      const shown = operands.map((a) => a.text).join(' ');
      this.unknown(
        `cd "${shown}" goes to a directory not known in advance (HOME, CDPATH, - or an expansion)`,
      );
      return { ok: [null], failed: dirs };
    }
    const to = target.text;
    const ok = dirs.map((dir) => {
      if (dir === null && !to.startsWith('/')) return null;
      const cwd = dir ?? '/';
      // The shell's default logical cd takes `..` textually; -P walks the real directories.
      return physicalPath(physical ? `${to}/` : `${lexicalPath(to, cwd)}/`, cwd);
    });
    return { ok: union(ok), failed: dirs };
  }
}

function contextIn(dir: Dir): WriterContext {
  return {
    isDir(path, follow) {
      if (!isAbsolute(path) && dir === null) return false;
      const resolved = physicalPath(path, dir ?? '/');
      try {
        const stat = follow ? statSync : lstatSync;
        return stat(resolved, { throwIfNoEntry: false })?.isDirectory() ?? false;
      } catch {
        return false;
      }
    },
  };
}

export interface TargetOptions {
  /** The directory the command starts in. */
  cwd: string;
  /** The HOME the command will run with; without it a `~` makes its word unknown. */
  home?: string;
}

/**
 * The files a command line will write, from its parse tree: output redirections and the path arguments
 * of the programs in `writers`, resolved against `cwd` (and any literal `cd` on the way).
 */
export function writeTargets(command: string, { cwd, home }: TargetOptions): WriteTargets {
  const root = typeof command === 'string' ? parseShell(command) : null;
  if (!root) return { known: false, paths: [], trees: [], reason: 'command cannot be parsed' };
  const analysis = new Analysis(home);
  try {
    analysis.stmts(list(root.Stmts), [physicalPath(`${lexicalPath(cwd, '/')}/`, '/')]);
  } catch (err) {
    analysis.unknown(`analysis error: ${(err as Error)?.message ?? String(err)}`);
  }
  const result: WriteTargets = {
    known: analysis.reason === undefined,
    paths: [...analysis.paths],
    trees: [...analysis.trees],
  };
  if (analysis.reason !== undefined) result.reason = analysis.reason;
  return result;
}
