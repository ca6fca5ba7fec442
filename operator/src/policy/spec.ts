import type { WordInfo } from './words.ts';

/** The type of an option argument or positional argument. */
export type ArgKind = 'path' | 'text' | 'number' | { enum: readonly string[] } | ((value: string) => boolean);

export interface OptionSpec {
  name: string;
  /** Kind of the required argument; undefined for a flag. */
  arg?: ArgKind;
  /** A long option whose argument may only be attached (`--color[=when]`). */
  optional?: boolean;
}

export interface Parsed {
  options: Map<string, string[]>;
  positionals: WordInfo[];
}

export interface ProgramSpec {
  options?: OptionSpec[];
  positional?: ArgKind;
  minPositional?: number;
  maxPositional?: number;
  /** `head -5`, `grep -3`: a dash followed by digits. */
  numericShort?: boolean;
  /** Options are whole tokens even with one dash (`ip -br`, `find -name`). */
  wholeTokens?: boolean;
  /** No option of the real program writes or runs anything, so unknown-shaped or split words are harmless. */
  harmlessArgs?: boolean;
  /** Read-only subcommands chosen by the first positional. */
  subcommands?: Record<string, ProgramSpec>;
  /** Subcommand may be omitted. */
  subcommandOptional?: boolean;
  /** The subcommand also accepts its parent's options. */
  inherit?: boolean;
  /** Extra condition over the parsed arguments; returns a reason when refused. */
  post?: (parsed: Parsed) => string | null;
  /** Replaces generic matching entirely (find, sed, test). */
  check?: (args: WordInfo[], name: string) => string | null;
}

// L: a field or column list (`pid,comm,%cpu`), which never names a file.
const KINDS: Record<string, ArgKind> = {
  N: 'number',
  P: 'path',
  T: 'text',
  L: (v) => /^[\w,.%:=+-]*$/.test(v),
};

/**
 * Option list from a compact notation: `-a --all -n:N --lines:N --color?` where `:N` number, `:P` path,
 * `:T` text, `:L` field list, `:{a,b}` enum, and `?` an optional attached argument.
 */
export function opts(notation: string): OptionSpec[] {
  return notation
    .split(/\s+/)
    .filter(Boolean)
    .map((token) => {
      if (token.endsWith('?')) return { name: token.slice(0, -1), arg: 'text', optional: true };
      const [name, kind] = token.split(':') as [string, string | undefined];
      if (kind === undefined) return { name };
      if (kind.startsWith('{')) return { name, arg: { enum: kind.slice(1, -1).split(',') } };
      const arg = KINDS[kind];
      if (!arg) throw new Error(`bad option kind in ${token}`);
      return { name, arg };
    });
}

export const isNumber = (v: string) => /^[+-]?\d+(\.\d+)?[a-zA-Z]{0,3}$/.test(v);

export function kindAccepts(kind: ArgKind, word: WordInfo): boolean {
  if (kind === 'path' || kind === 'text') return true;
  if (!word.literal) return false;
  if (kind === 'number') return isNumber(word.text);
  if (typeof kind === 'function') return kind(word.text);
  return kind.enum.includes(word.text);
}

const show = (w: WordInfo) => JSON.stringify(w.text);

/** A word that could reach the program looking like an option. */
export function mayBeOption(w: WordInfo): boolean {
  if (w.literal) return w.text.startsWith('-') && w.text !== '-';
  return w.prefix === '' || w.prefix.startsWith('-');
}

/** Matches arguments against a positive specification; returns a reason naming the token when refused. */
export function matchSpec(
  name: string,
  spec: ProgramSpec,
  args: WordInfo[],
  inherited: OptionSpec[] = [],
): string | null {
  if (spec.check) return spec.check(args, name);
  const options = [...inherited, ...(spec.options ?? [])];
  const byName = new Map(options.map((o) => [o.name, o]));
  const parsed: Parsed = { options: new Map(), positionals: [] };
  const record = (opt: string, value = '') => {
    const seen = parsed.options.get(opt) ?? [];
    seen.push(value);
    parsed.options.set(opt, seen);
  };
  const takeValue = (opt: OptionSpec, value: WordInfo | undefined, token: string): string | null => {
    if (!value) return `option "${token}" of ${name} needs an argument`;
    if (!kindAccepts(opt.arg!, value))
      return `bad argument ${show(value)} for option "${opt.name}" of ${name}`;
    if (value.multi && !spec.harmlessArgs)
      return `argument ${show(value)} of "${opt.name}" may split into several words`;
    record(opt.name, value.text);
    return null;
  };
  let endOfOptions = false;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (!endOfOptions && mayBeOption(w)) {
      if (!w.literal) {
        if (spec.harmlessArgs) {
          parsed.positionals.push(w);
          continue;
        }
        return `non-literal word ${show(w)} in option position for ${name}`;
      }
      const t = w.text;
      if (/[^\x21-\x7e]/.test(t)) return `non-ASCII or invisible character in option ${show(w)} for ${name}`;
      if (t === '--') {
        endOfOptions = true;
        continue;
      }
      if (spec.numericShort && /^-\d+$/.test(t)) {
        record('-N', t.slice(1));
        continue;
      }
      if (t.startsWith('--') || spec.wholeTokens) {
        const eq = t.indexOf('=');
        const optName = eq > 0 ? t.slice(0, eq) : t;
        const opt = byName.get(optName);
        if (!opt) return `unknown option "${optName}" for ${name}`;
        if (eq > 0) {
          if (!opt.arg) return `option "${optName}" of ${name} takes no argument`;
          const reason = takeValue(opt, { ...w, text: t.slice(eq + 1), prefix: t.slice(eq + 1) }, t);
          if (reason) return reason;
        } else if (opt.arg && !opt.optional) {
          const reason = takeValue(opt, args[++i], t);
          if (reason) return reason;
        } else record(optName);
        continue;
      }
      // A cluster of short options: each letter must be known; an argument takes the rest of the token.
      for (let j = 1; j < t.length; j++) {
        const optName = `-${t[j]}`;
        const opt = byName.get(optName);
        if (!opt) return `unknown option "${optName}" in "${t}" for ${name}`;
        if (!opt.arg || opt.optional) {
          record(optName);
          continue;
        }
        const rest = t.slice(j + 1);
        const reason = rest
          ? takeValue(opt, { ...w, text: rest, prefix: rest }, t)
          : takeValue(opt, args[++i], t);
        if (reason) return reason;
        break;
      }
      continue;
    }
    if (/^[\p{Pd}\u2212\uFE63\uFF0D]/u.test(w.text) && !w.text.startsWith('-'))
      return `look-alike dash in ${show(w)} for ${name}`;
    if (spec.subcommands && parsed.positionals.length === 0) {
      if (!w.literal) return `non-literal subcommand ${show(w)} for ${name}`;
      const sub = Object.hasOwn(spec.subcommands, w.text) ? spec.subcommands[w.text] : undefined;
      if (!sub) return `subcommand "${w.text}" of ${name} is not read-only or not known`;
      const reason = spec.post?.(parsed);
      if (reason) return reason;
      return matchSpec(`${name} ${w.text}`, sub, args.slice(i + 1), sub.inherit ? options : []);
    }
    if (!kindAccepts(spec.positional ?? 'path', w)) return `bad argument ${show(w)} for ${name}`;
    if (w.multi && !spec.harmlessArgs && spec.maxPositional !== undefined)
      return `argument ${show(w)} of ${name} may split into several words`;
    parsed.positionals.push(w);
  }
  if (spec.subcommands && !spec.subcommandOptional) return `missing subcommand for ${name}`;
  const count = parsed.positionals.length;
  if (spec.maxPositional !== undefined && count > spec.maxPositional)
    return `too many arguments for ${name} (${show(parsed.positionals[spec.maxPositional]!)})`;
  if (count < (spec.minPositional ?? 0)) return `missing argument for ${name}`;
  return spec.post?.(parsed) ?? null;
}
