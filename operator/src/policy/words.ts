import { list, nodeType, type ShNode } from './parse.ts';

/** What a shell word becomes once quotes are removed, as far as it is knowable without running anything. */
export interface WordInfo {
  /** Quote-removed text; expansions appear as their source text. */
  text: string;
  /** True when the word is exactly `text`: no expansion, glob or brace of any kind. */
  literal: boolean;
  /** Quote-removed literal text before the first expansion. */
  prefix: string;
  /** May become several words or an unexpected word (unquoted expansion, glob, brace). */
  multi: boolean;
  /** Command and process substitutions inside the word, to be classified on their own. */
  substitutions: ShNode[][];
  /** Set when the word holds an expansion the classifier refuses to reason about. */
  problem?: string;
}

const GLOB = /[*?[]/;

function unescapeUnquoted(raw: string): { text: string; lead: string; glob: boolean; brace: boolean } {
  let text = '';
  let lead: string | undefined;
  let glob = false;
  let open = false;
  let brace = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      const next = raw[i + 1];
      i++;
      if (next !== undefined && next !== '\n') text += next;
      continue;
    }
    // `[` alone (the test command) is no pattern; `[...]` is.
    if (GLOB.test(c) && (c !== '[' || raw.indexOf(']', i + 1) > i)) {
      glob = true;
      lead ??= text;
    }
    if (c === '{') {
      open = true;
      lead ??= text;
    }
    if (open && (c === ',' || (c === '.' && raw[i + 1] === '.'))) brace = true;
    text += c;
  }
  return { text, lead: lead ?? text, glob, brace: brace && text.includes('}') };
}

function unescapeDouble(raw: string): string {
  return raw.replace(/\\([$`"\\\n])/g, (_m, c: string) => (c === '\n' ? '' : c));
}

function paramProblem(p: ShNode): string | undefined {
  if (
    p.Excl ||
    p.Index ||
    p.Slice ||
    p.Repl ||
    p.Exp ||
    p.Width ||
    (typeof p.Names === 'number' && p.Names !== 0)
  )
    return 'parameter expansion with operators';
  return undefined;
}

/** Resolves a Word node; see WordInfo. */
export function resolveWord(word: ShNode): WordInfo {
  const info: WordInfo = { text: '', literal: true, prefix: '', multi: false, substitutions: [] };
  const dynamic = (source: string, splits: boolean, lead = '') => {
    if (info.literal) info.prefix = info.text + lead;
    info.literal = false;
    info.text += source;
    if (splits) info.multi = true;
  };
  const visit = (part: ShNode, quoted: boolean) => {
    switch (nodeType(part)) {
      case 'Lit': {
        const raw = String(part.Value);
        if (quoted) {
          info.text += unescapeDouble(raw);
          return;
        }
        const { text, lead, glob, brace } = unescapeUnquoted(raw);
        if (glob || brace) dynamic(text, true, lead);
        else info.text += text;
        return;
      }
      case 'SglQuoted':
        if (part.Dollar) {
          // $'...' escapes are not decoded, so the word's value is unknown.
          dynamic(`$'${String(part.Value)}'`, false);
          return;
        }
        info.text += String(part.Value);
        return;
      case 'DblQuoted':
        for (const inner of list(part.Parts)) visit(inner, true);
        return;
      case 'ParamExp': {
        const name = String((part.Param as ShNode | null)?.Value ?? '');
        const problem = paramProblem(part);
        if (problem) info.problem ??= `${problem} "\${${part.Excl ? '!' : ''}${name}…}"`;
        dynamic(`$${name}`, !quoted);
        return;
      }
      case 'CmdSubst':
        info.substitutions.push(list(part.Stmts));
        dynamic('$(…)', !quoted);
        return;
      case 'ProcSubst':
        info.substitutions.push(list(part.Stmts));
        dynamic('<(…)', false);
        return;
      case 'ArithmExp':
        info.problem ??= 'arithmetic expansion "$((…))"';
        dynamic('$((…))', !quoted);
        return;
      default:
        info.problem ??= `unsupported word part ${nodeType(part)}`;
        dynamic('?', true);
    }
  };
  for (const part of list(word.Parts)) visit(part, false);
  if (info.literal) info.prefix = info.text;
  return info;
}
