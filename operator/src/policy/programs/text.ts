import { isNumber, mayBeOption, opts, type ProgramSpec } from '../spec.ts';
import type { WordInfo } from '../words.ts';

const grepOpts = opts(
  '-a -b -c -E -F -G -H -h -i -I -l -L -n -o -P -q -r -R -s -T -U -v -w -x -y -z -Z ' +
    '-e:T -f:P -m:N -A:N -B:N -C:N -d:{read,skip,recurse} -D:{read,skip} --extended-regexp --fixed-strings ' +
    '--basic-regexp --perl-regexp --regexp:T --file:P --ignore-case --no-ignore-case --word-regexp --line-regexp ' +
    '--no-messages --invert-match --max-count:N --byte-offset --line-number --no-line-number --line-buffered ' +
    '--with-filename --no-filename --label:T --only-matching --quiet --silent --binary-files:{binary,text,without-match} ' +
    '--text --directories:{read,skip,recurse} --devices:{read,skip} --recursive --dereference-recursive ' +
    '--include:T --exclude:T --exclude-from:P --exclude-dir:T --files-without-match --files-with-matches ' +
    '--count --initial-tab --null --null-data --after-context:N --before-context:N --context:N --color? --colour?',
);
const grep: ProgramSpec = { harmlessArgs: true, numericShort: true, positional: 'text', options: grepOpts };

// ripgrep: no --pre (runs a program per file) and no -z/--search-zip (runs decompressors).
const rg: ProgramSpec = {
  positional: 'text',
  options: opts(
    '-a -c -F -H -i -I -l -L -n -N -o -p -P -q -s -S -u -U -v -w -x -0 -e:T -f:P -g:T -t:T -T:T -m:N -A:N -B:N -C:N -j:N -M:N -d:N -r:T ' +
      '--text --count --count-matches --fixed-strings --with-filename --no-filename --ignore-case --smart-case --case-sensitive ' +
      '--files-with-matches --files-without-match --follow --line-number --no-line-number --only-matching --pretty ' +
      '--pcre2 --quiet --unrestricted --multiline --invert-match --word-regexp --line-regexp --null --regexp:T --file:P ' +
      '--glob:T --iglob:T --type:T --type-not:T --max-count:N --after-context:N --before-context:N --context:N ' +
      '--threads:N --max-columns:N --max-depth:N --max-filesize:T --replace:T --hidden --no-ignore --no-ignore-vcs ' +
      '--files --json --column --no-heading --heading --vimgrep --trim --stats --type-list --sort:T --sortr:T --color:T --colors:T',
  ),
};

const FIND_FLAGS = new Set(
  (
    '-print -print0 -ls -prune -quit -true -false -empty -readable -writable -executable -nouser -nogroup -depth ' +
    '-xdev -mount -follow -daystart -noleaf -ignore_readdir_race -noignore_readdir_race -not -a -and -o -or ! ( ) ,'
  ).split(' '),
);
const FIND_UNARY = new Set(
  (
    '-name -iname -path -ipath -wholename -iwholename -regex -iregex -lname -ilname -type -xtype -mtime -mmin -atime ' +
    '-amin -ctime -cmin -size -maxdepth -mindepth -newer -anewer -cnewer -user -group -uid -gid -perm -links -inum ' +
    '-samefile -printf -fstype -used -regextype'
  ).split(' '),
);
const FIND_WRITES = new Set('-delete -exec -execdir -ok -okdir -fprint -fprint0 -fls -fprintf'.split(' '));

/** find: starting points, then an expression of known tests and printing actions. */
function checkFind(args: WordInfo[]): string | null {
  let i = 0;
  while (i < args.length && args[i]!.literal && /^-[HLP]$|^-O\d$/.test(args[i]!.text)) i++;
  // Starting points end where the expression begins; a word that might turn into one is refused.
  for (; i < args.length; i++) {
    const w = args[i]!;
    if (w.literal && (w.text.startsWith('-') || w.text === '!' || w.text === '(')) break;
    if (!w.literal && (mayBeOption(w) || w.multi))
      return `non-literal starting point "${w.text}" for find may become an expression`;
  }
  for (; i < args.length; i++) {
    const w = args[i]!;
    if (!w.literal) return `non-literal word "${w.text}" in find expression`;
    const t = w.text;
    if (FIND_WRITES.has(t)) return `find action "${t}" is not read-only`;
    if (FIND_FLAGS.has(t)) continue;
    if (FIND_UNARY.has(t) || /^-newer[aBcmt][aBcmt]$/.test(t)) {
      const value = args[++i];
      if (!value) return `find test "${t}" needs an argument`;
      if (value.multi) return `argument "${value.text}" of find test "${t}" may split into several words`;
      if ((t === '-maxdepth' || t === '-mindepth') && !(value.literal && isNumber(value.text)))
        return `bad argument "${value.text}" for find "${t}"`;
      continue;
    }
    return `unknown find expression "${t}"`;
  }
  return null;
}

/** Scans a sed script; refuses commands that write files or run programs (w W r R e, s///w, s///e). */
export function checkSedScript(script: string): string | null {
  let i = 0;
  const n = script.length;
  const skipDelimited = (delim: string): boolean => {
    for (; i < n; i++) {
      if (script[i] === '\\') i++;
      else if (script[i] === delim) {
        i++;
        return true;
      }
    }
    return false;
  };
  const address = (): boolean => {
    if (script[i] === '/') {
      i++;
      return skipDelimited('/');
    }
    if (script[i] === '\\') {
      const d = script[i + 1];
      i += 2;
      return d !== undefined && skipDelimited(d);
    }
    while (i < n && /[0-9$~+]/.test(script[i]!)) i++;
    return true;
  };
  while (i < n) {
    const c0 = script[i]!;
    if (/[\s;{}]/.test(c0)) {
      i++;
      continue;
    }
    if (!address()) return 'unterminated address in sed script';
    if (script[i] === ',') {
      i++;
      if (!address()) return 'unterminated address in sed script';
    }
    while (script[i] === ' ' || script[i] === '!' || script[i] === 'I' || script[i] === 'M') i++;
    const c = script[i++];
    if (c === undefined) break;
    if (c === '{' || c === '}' || c === ';') continue;
    if (c === 's' || c === 'y') {
      const d = script[i++];
      if (d === undefined || d === '\\' || d === '\n') return `bad delimiter in sed "${c}" command`;
      if (!skipDelimited(d) || !skipDelimited(d)) return `unterminated sed "${c}" command`;
      const start = i;
      while (i < n && /[a-zA-Z0-9]/.test(script[i]!)) i++;
      const flags = script.slice(start, i);
      if (c === 's' && /[we]/.test(flags))
        return `sed s command flag "${flags}" writes a file or runs a command`;
      continue;
    }
    if ('wWrReF'.includes(c) && c !== 'F')
      return `sed command "${c}" reads or writes a file or runs a command`;
    if ('aic'.includes(c) || ':btTv#'.includes(c)) {
      // Text, labels and comments run to the end of the line (labels also to ";").
      while (
        i < n &&
        script[i] !== '\n' &&
        !(c !== 'a' && c !== 'i' && c !== 'c' && c !== '#' && script[i] === ';')
      )
        i++;
      continue;
    }
    if ('=dDgGhHlnNpPqQxzF'.includes(c)) {
      while (i < n && /[0-9]/.test(script[i]!)) i++;
      continue;
    }
    return `unknown sed command "${c}"`;
  }
  return null;
}

const sedOpts = new Map<string, 'flag' | 'script' | 'number' | 'file' | 'inplace'>([
  ['-n', 'flag'],
  ['--quiet', 'flag'],
  ['--silent', 'flag'],
  ['-E', 'flag'],
  ['-r', 'flag'],
  ['--regexp-extended', 'flag'],
  ['-s', 'flag'],
  ['--separate', 'flag'],
  ['-z', 'flag'],
  ['--null-data', 'flag'],
  ['-u', 'flag'],
  ['--unbuffered', 'flag'],
  ['--posix', 'flag'],
  ['--debug', 'flag'],
  ['--sandbox', 'flag'],
  ['-l', 'number'],
  ['--line-length', 'number'],
  ['-e', 'script'],
  ['--expression', 'script'],
  ['-f', 'file'],
  ['--file', 'file'],
  ['-i', 'inplace'],
  ['--in-place', 'inplace'],
]);

/** sed: known options, literal scripts that pass checkSedScript, never -i. */
function checkSed(args: WordInfo[]): string | null {
  const scripts: string[] = [];
  const files: WordInfo[] = [];
  let end = false;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (!end && mayBeOption(w)) {
      if (!w.literal) return `non-literal word "${w.text}" in option position for sed`;
      if (w.text === '--') {
        end = true;
        continue;
      }
      const eq = w.text.indexOf('=');
      const long = w.text.startsWith('--');
      const flagName = long && eq > 0 ? w.text.slice(0, eq) : w.text;
      // Short clusters like -ne 'p': split letters, an argument-taking letter takes the rest.
      const letters = long ? [flagName] : [...w.text.slice(1)].map((ch) => `-${ch}`);
      for (let j = 0; j < letters.length; j++) {
        const kind = sedOpts.get(letters[j]!);
        if (!kind) return `unknown option "${letters[j]}" in "${w.text}" for sed`;
        if (kind === 'inplace') return `sed option "${letters[j]}" edits files in place`;
        if (kind === 'file') return `sed option "${letters[j]}" runs a script file that cannot be checked`;
        if (kind === 'flag') continue;
        const attached = long
          ? eq > 0
            ? w.text.slice(eq + 1)
            : undefined
          : w.text.slice(j + 2) || undefined;
        let value = attached;
        if (value === undefined) {
          const next = args[++i];
          if (!next) return `option "${letters[j]}" of sed needs an argument`;
          if (!next.literal) return `non-literal sed argument "${next.text}"`;
          value = next.text;
        }
        if (kind === 'number' && !isNumber(value)) return `bad argument "${value}" for sed "${letters[j]}"`;
        if (kind === 'script') scripts.push(value);
        break;
      }
      continue;
    }
    files.push(w);
  }
  if (scripts.length === 0) {
    const first = files.shift();
    if (!first) return 'missing sed script';
    if (!first.literal) return `non-literal sed script "${first.text}"`;
    scripts.push(first.text);
  }
  for (const script of scripts) {
    const reason = checkSedScript(script);
    if (reason) return reason;
  }
  const split = files.find((f) => f.multi && mayBeOption(f));
  return split ? `argument "${split.text}" of sed may become an option` : null;
}

export const textTools: Record<string, ProgramSpec> = {
  grep,
  egrep: grep,
  fgrep: grep,
  rg,
  find: { check: checkFind },
  sed: { check: checkSed },
};
