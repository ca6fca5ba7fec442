import { lstatSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/** One character of a word after quote removal; `quoted` characters are never pattern characters. */
export interface PatternChar {
  c: string;
  quoted: boolean;
}

/** A pattern bash would expand but this module cannot reproduce exactly (an unknown character class). */
export class UnsupportedGlob extends Error {}

const CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: 'a-zA-Z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  xdigit: '0-9A-Fa-f',
  punct: '!-\\/:-@\\[-`{-~',
  cntrl: '\\x00-\\x1f\\x7f',
  print: ' -~',
  graph: '!-~',
  word: 'a-zA-Z0-9_',
};

const reEscape = (c: string) => c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
const isActive = (p: PatternChar, c: string) => !p.quoted && p.c === c;

/** True when the characters hold an unquoted `*`, `?` or `[`: bash tries pathname expansion on them. */
export function hasGlob(chars: readonly PatternChar[]): boolean {
  return chars.some((p) => !p.quoted && (p.c === '*' || p.c === '?' || p.c === '['));
}

/** A bracket expression starting at `chars[at]` (`[`); null when it does not close (then `[` is literal). */
function bracket(chars: readonly PatternChar[], at: number): { re: string; end: number } | null {
  let i = at + 1;
  let negate = false;
  if (i < chars.length && (isActive(chars[i]!, '!') || isActive(chars[i]!, '^'))) {
    negate = true;
    i++;
  }
  let body = '';
  let first = true;
  for (; i < chars.length; i++) {
    const p = chars[i]!;
    if (isActive(p, ']') && !first) return { re: `[${negate ? '^' : ''}${body}]`, end: i };
    first = false;
    if (isActive(p, '[') && chars[i + 1]?.c === ':' && !chars[i + 1]!.quoted) {
      const close = chars.findIndex((q, j) => j > i + 1 && q.c === ':' && chars[j + 1]?.c === ']');
      if (close < 0) return null;
      const name = chars
        .slice(i + 2, close)
        .map((q) => q.c)
        .join('');
      const cls = CLASSES[name];
      if (!cls) throw new UnsupportedGlob(`character class "[:${name}:]"`);
      body += cls;
      i = close + 1;
      continue;
    }
    if (isActive(p, '-') && body !== '' && i + 1 < chars.length && !isActive(chars[i + 1]!, ']')) {
      body += '-';
      continue;
    }
    body += reEscape(p.c);
  }
  return null;
}

function componentRegExp(chars: readonly PatternChar[]): RegExp {
  let re = '';
  for (let i = 0; i < chars.length; i++) {
    const p = chars[i]!;
    if (isActive(p, '*')) re += '.*';
    else if (isActive(p, '?')) re += '.';
    else if (isActive(p, '[')) {
      const b = bracket(chars, i);
      if (b) {
        re += b.re;
        i = b.end;
      } else re += '\\[';
    } else re += reEscape(p.c);
  }
  return new RegExp(`^${re}$`, 's');
}

const text = (chars: readonly PatternChar[]) => chars.map((p) => p.c).join('');
const joinPath = (base: string, name: string) =>
  base === '' ? name : base.endsWith('/') ? base + name : `${base}/${name}`;

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Pathname expansion as bash does it by default (no dotglob, nullglob, extglob or globstar; globskipdots):
 * component by component, a leading `.` only matched by a literal `.`, results sorted bytewise (the C.UTF-8
 * order the executor's environment sets). Returns null when nothing matches: bash then keeps the word.
 */
export function expandGlob(chars: readonly PatternChar[], cwd: string): string[] | null {
  const components: PatternChar[][] = [[]];
  for (const p of chars) {
    if (p.c === '/') components.push([]);
    else components.at(-1)!.push(p);
  }
  const absolute = chars[0]?.c === '/';
  if (absolute) components.shift();
  let paths = [absolute ? '/' : ''];
  let globbed = false;
  const at = (path: string) => (isAbsolute(path) ? path : join(cwd, path || '.'));
  components.forEach((component, index) => {
    const last = index === components.length - 1;
    if (last && component.length === 0) {
      // A trailing slash: only directories, and the slash stays.
      paths = paths.filter((p) => isDir(at(p))).map((p) => `${p}/`);
      return;
    }
    if (!hasGlob(component)) {
      paths = paths.map((p) => joinPath(p, text(component)));
      if (globbed && last) paths = paths.filter((p) => exists(at(p)));
      return;
    }
    globbed = true;
    const re = componentRegExp(component);
    const dotOk = component[0]?.c === '.';
    const next: string[] = [];
    for (const base of paths) {
      let names: string[];
      try {
        names = readdirSync(at(base));
      } catch {
        continue;
      }
      for (const name of names) {
        if (name.startsWith('.') && !dotOk) continue;
        if (!re.test(name)) continue;
        const path = joinPath(base, name);
        if (!last && !isDir(at(path))) continue;
        next.push(path);
      }
    }
    paths = next;
  });
  if (!globbed || paths.length === 0) return null;
  return paths.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
