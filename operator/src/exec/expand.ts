import { list, nodeType, type ShNode } from '../policy/parse.ts';
import { expandGlob, hasGlob, UnsupportedGlob, type PatternChar } from './glob.ts';

/** A construct the plan cannot reproduce exactly without a shell; `construct` names it for the approval. */
export class Unplannable extends Error {
  constructor(readonly construct: string) {
    super(construct);
  }
}

export interface ExpandContext {
  /** The executor's scrubbed environment: the only variables `$NAME` may name. */
  env: Readonly<Record<string, string>>;
  cwd: string;
}

/** A character after quote removal; `split` marks one from an unquoted expansion (field splitting applies). */
interface Char extends PatternChar {
  split: boolean;
}

const IFS = new Set([' ', '\t', '\n']);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function paramValue(part: ShNode, ctx: ExpandContext, quoted: boolean): string {
  const name = String((part.Param as ShNode | null)?.Value ?? '');
  if (
    part.Excl ||
    part.Length ||
    part.Index ||
    part.Slice ||
    part.Repl ||
    part.Exp ||
    part.Width ||
    (typeof part.Names === 'number' && part.Names !== 0)
  )
    throw new Unplannable(`parameter expansion with operators "\${…${name}…}"`);
  if (!NAME.test(name)) throw new Unplannable(`special parameter "$${name}"`);
  if (!Object.hasOwn(ctx.env, name))
    throw new Unplannable(`variable "$${name}", which the executor's environment does not set`);
  const value = ctx.env[name]!;
  // Bash would treat these as pattern characters; refusing is simpler than reproducing that.
  if (!quoted && /[*?[\\]/.test(value))
    throw new Unplannable(`unquoted "$${name}" whose value holds glob characters`);
  return value;
}

function unsupported(part: ShNode): Unplannable {
  const type = nodeType(part);
  const names: Record<string, string> = {
    CmdSubst: 'command substitution "$(…)"',
    ProcSubst: 'process substitution "<(…)"',
    ArithmExp: 'arithmetic expansion "$((…))"',
    ExtGlob: 'extended glob',
    BraceExp: 'brace expansion',
  };
  return new Unplannable(names[type] ?? `word part ${type}`);
}

/** The double-quote escapes: `\$`, `` \` ``, `\"`, `\\` and a line continuation. */
const unescapeDouble = (raw: string) =>
  raw.replace(/\\([$`"\\\n])/g, (_m, c: string) => (c === '\n' ? '' : c));

/** Quote removal and parameter expansion of one word, before field splitting. */
function wordChars(word: ShNode, ctx: ExpandContext): { chars: Char[]; quotedPart: boolean } {
  const chars: Char[] = [];
  let quotedPart = false;
  const push = (s: string, quoted: boolean, split = false) => {
    for (const c of s) chars.push({ c, quoted, split });
  };
  const parts = list(word.Parts);
  parts.forEach((part, index) => {
    switch (nodeType(part)) {
      case 'Lit': {
        let raw = String(part.Value);
        if (index === 0 && raw.startsWith('~')) {
          const slash = raw.indexOf('/');
          const prefix = slash < 0 ? raw : raw.slice(0, slash);
          if (prefix !== '~' || (slash < 0 && parts.length > 1))
            throw new Unplannable(`tilde expansion "${prefix}"`);
          // The expanded home directory is not split or globbed, as if quoted.
          push(ctx.env.HOME ?? '', true);
          raw = raw.slice(1);
        }
        for (let i = 0; i < raw.length; i++) {
          if (raw[i] === '\\') {
            i++;
            if (raw[i] !== undefined && raw[i] !== '\n') push(raw[i]!, true);
          } else push(raw[i]!, false);
        }
        return;
      }
      case 'SglQuoted':
        if (part.Dollar) throw new Unplannable(`ANSI-C quoting "$'…'"`);
        quotedPart = true;
        push(String(part.Value), true);
        return;
      case 'DblQuoted':
        if (part.Dollar) throw new Unplannable('locale quoting "$"…""');
        quotedPart = true;
        for (const inner of list(part.Parts)) {
          const type = nodeType(inner);
          if (type === 'Lit') push(unescapeDouble(String(inner.Value)), true);
          else if (type === 'ParamExp') push(paramValue(inner, ctx, true), true);
          else throw unsupported(inner);
        }
        return;
      case 'ParamExp':
        push(paramValue(part, ctx, false), false, true);
        return;
      default:
        throw unsupported(part);
    }
  });
  checkBraces(chars);
  checkAssignmentTilde(chars);
  return { chars, quotedPart };
}

const plain = (p: Char | undefined, c: string) => p !== undefined && !p.quoted && !p.split && p.c === c;

/** `{a,b}` and `{1..3}` would be brace-expanded by bash; this module does not reproduce that. */
function checkBraces(chars: Char[]): void {
  for (let i = 0; i < chars.length; i++) {
    if (!plain(chars[i], '{')) continue;
    for (let j = i + 1; j < chars.length; j++) {
      if (plain(chars[j], '}')) break;
      if (plain(chars[j], ',') || (plain(chars[j], '.') && plain(chars[j + 1], '.')))
        if (chars.slice(j).some((p) => plain(p, '}'))) throw new Unplannable('brace expansion "{…,…}"');
    }
  }
}

/** Bash expands `~` after `=` or `:` in an argument that looks like an assignment (`a=~/x`). */
function checkAssignmentTilde(chars: Char[]): void {
  const head = chars.findIndex((p) => !(!p.quoted && !p.split && /\w/.test(p.c)));
  if (
    head <= 0 ||
    !plain(chars[head], '=') ||
    !NAME.test(
      chars
        .slice(0, head)
        .map((p) => p.c)
        .join(''),
    )
  )
    return;
  for (let i = head + 1; i < chars.length; i++)
    if (plain(chars[i], '~') && (plain(chars[i - 1], '=') || plain(chars[i - 1], ':')))
      throw new Unplannable('tilde expansion in an assignment-like word');
}

/** Field splitting on the default IFS; a field made only of an empty unquoted expansion disappears. */
function splitFields(chars: Char[], quotedPart: boolean): Char[][] {
  const fields: Char[][] = [];
  let current: Char[] | null = quotedPart && chars.length === 0 ? [] : null;
  for (const p of chars) {
    if (p.split && IFS.has(p.c)) {
      if (current) fields.push(current);
      current = null;
    } else (current ??= []).push(p);
  }
  if (current) fields.push(current);
  return fields;
}

const joinChars = (chars: readonly Char[]) => chars.map((p) => p.c).join('');

function glob(field: Char[], ctx: ExpandContext): string[] {
  if (!hasGlob(field)) return [joinChars(field)];
  try {
    return expandGlob(field, ctx.cwd) ?? [joinChars(field)];
  } catch (err) {
    if (err instanceof UnsupportedGlob) throw new Unplannable(`glob with ${err.message}`);
    throw err;
  }
}

/** A command's word as bash expands it: quote removal, `~`, `$NAME`, field splitting, pathname expansion. */
export function expandArgument(word: ShNode, ctx: ExpandContext): string[] {
  const { chars, quotedPart } = wordChars(word, ctx);
  return splitFields(chars, quotedPart).flatMap((field) => glob(field, ctx));
}

/** A redirection target: it must expand to exactly one word, without a glob. */
export function expandTarget(word: ShNode, ctx: ExpandContext): string {
  const { chars, quotedPart } = wordChars(word, ctx);
  const fields = splitFields(chars, quotedPart);
  if (fields.length !== 1 || hasGlob(fields[0]!))
    throw new Unplannable(`redirection target "${joinChars(chars)}" that is a glob or not one word`);
  return joinChars(fields[0]!);
}

/** A here-string's word: expanded but neither split nor globbed. */
export function expandHereString(word: ShNode, ctx: ExpandContext): string {
  return joinChars(wordChars(word, ctx).chars);
}

/**
 * A here-document's body. With a quoted delimiter it is taken literally; otherwise `$NAME` expands and the
 * backslash escapes `\$`, `` \` ``, `\\` and line continuations apply. `<<-` strips leading tabs.
 */
export function expandHeredoc(redirect: ShNode, stripTabs: boolean, ctx: ExpandContext): string {
  const delimiter = list((redirect.Word as ShNode | null)?.Parts);
  const quoted = delimiter.some((p) => nodeType(p) !== 'Lit' || String(p.Value).includes('\\'));
  let lineStart = true;
  let body = '';
  for (const part of list((redirect.Hdoc as ShNode | null)?.Parts)) {
    const type = nodeType(part);
    if (type === 'Lit') {
      let raw = '';
      for (const c of String(part.Value)) {
        if (stripTabs && lineStart && c === '\t') continue;
        lineStart = c === '\n';
        raw += c;
      }
      body += quoted ? raw : raw.replace(/\\([$`\\\n])/g, (_m, c: string) => (c === '\n' ? '' : c));
    } else if (type === 'ParamExp' && !quoted) {
      body += paramValue(part, ctx, true);
      lineStart = false;
    } else throw unsupported(part);
  }
  return body;
}
