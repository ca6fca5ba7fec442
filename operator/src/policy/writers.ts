import { programs } from './programs/index.ts';
import { checkSedScript } from './programs/text.ts';
import { matchSpec, mayBeOption, opts, type ArgKind, type OptionSpec, type Parsed } from './spec.ts';
import type { WordInfo } from './words.ts';

/** A path a command writes, as written (relative to the directory it runs in). */
export interface RawTarget {
  path: string;
  /** Everything below the path may change too (`rm -r`, `chmod -R`, `mv` of a directory). */
  tree?: boolean;
  /** The write goes through a symlink at the path to the file it names (`>`, `chmod`, `cp` onto it). */
  follow?: boolean;
}

export interface WriterContext {
  /** Whether `path` (as written) is an existing directory now; `follow` says whether a symlink counts. */
  isDir(path: string, follow: boolean): boolean;
}

/** The targets of one call, or why they cannot be known exactly. */
export type WriterResult = RawTarget[] | { unknown: string };

export type Writer = (args: WordInfo[], ctx: WriterContext, name: string) => WriterResult;

const unknown = (reason: string) => ({ unknown: reason });
const show = (w: WordInfo) => JSON.stringify(w.text);

// A function kind accepts only literal words (see kindAccepts): every path a writer names must be exact.
const LITERAL: ArgKind = () => true;

/** Short-and-long option notation (see opts) plus options whose argument is a path that must be literal. */
const options = (notation: string, literalPaths = ''): OptionSpec[] => [
  ...opts(notation),
  ...literalPaths
    .split(' ')
    .filter(Boolean)
    .map((name) => ({ name, arg: LITERAL })),
];

/** Parses with the classifier's own option matcher: clusters, `--opt=value`, `--` and permuted options. */
function parse(name: string, spec: OptionSpec[], args: WordInfo[], maxPositional?: number): Parsed | string {
  let parsed: Parsed | undefined;
  const reason = matchSpec(
    name,
    { options: spec, positional: LITERAL, maxPositional, post: (p) => ((parsed = p), null) },
    args,
  );
  return reason ?? parsed!;
}

const has = (p: Parsed, ...names: string[]) => names.some((n) => p.options.has(n));
const last = (p: Parsed, ...names: string[]) =>
  names.flatMap((n) => p.options.get(n) ?? []).at(-1) as string | undefined;
const texts = (p: Parsed) => p.positionals.map((w) => w.text);
const each = (paths: string[], how: Omit<RawTarget, 'path'> = {}): RawTarget[] =>
  paths.map((path) => ({ path, ...how }));
const THROUGH = { follow: true };
// -h: the link itself, not the file it names.
const noDereference = (p: Parsed) => has(p, '-h', '--no-dereference');

/** The name a source gets inside a destination directory. */
function baseOf(source: string): string | null {
  const base = source.replace(/\/+$/, '').split('/').at(-1) ?? '';
  return base === '' || base === '..' ? null : base;
}

interface Placement {
  /** `ln SOURCE` with no destination links into the current directory. */
  defaultHere?: boolean;
  /** Whether a symlink to a directory counts as the destination directory. */
  follow?: boolean;
}

/** cp, mv, ln and install: `-t DIR`, `-T`, a last-argument destination, and DIR/basename for a directory. */
function place(
  p: Parsed,
  ctx: WriterContext,
  how: Placement = {},
): { sources: string[]; dests: string[] } | string {
  const operands = texts(p);
  const dir = last(p, '-t', '--target-directory');
  const noTargetDir = has(p, '-T', '--no-target-directory');
  const into = (d: string, sources: string[]) => {
    const dests: string[] = [];
    for (const s of sources) {
      const base = baseOf(s);
      if (base === null) return `cannot tell the name "${s}" gets inside "${d}"`;
      dests.push(`${d.replace(/\/+$/, '')}/${base}`);
    }
    return { sources, dests };
  };
  if (dir !== undefined) return noTargetDir ? `-t and -T together` : into(dir, operands);
  if (operands.length === 0) return { sources: [], dests: [] };
  if (operands.length === 1) return how.defaultHere ? into('.', operands) : { sources: [], dests: [] };
  const dest = operands.at(-1)!;
  const sources = operands.slice(0, -1);
  if (noTargetDir) return operands.length === 2 ? { sources, dests: [dest] } : { sources: [], dests: [] };
  return operands.length > 2 || ctx.isDir(dest, how.follow ?? true)
    ? into(dest, sources)
    : { sources, dests: [dest] };
}

// Backups are named by VERSION_CONTROL and SIMPLE_BACKUP_SUFFIX from the environment, not by the command:
// the options are known so that generic() can name them.
const BACKUP = ['-b', '--backup', '-S', '--suffix'];
const BACKUP_OPTIONS = '-b --backup? -S:T --suffix:T ';
const INTO_DIR = '-t --target-directory';

const cpOptions = options(
  BACKUP_OPTIONS +
    '-a -d -f -i -H -l -L -n -P -p -R -r -s -T -u -v -x -Z --archive --attributes-only --copy-contents --force ' +
    '--interactive --link --dereference --no-clobber --no-dereference --preserve? --no-preserve:T --parents ' +
    '--recursive --reflink? --remove-destination --sparse:T --strip-trailing-slashes --symbolic-link ' +
    '--no-target-directory --update? --verbose --one-file-system --debug --context?',
  INTO_DIR,
);
const mvOptions = options(
  BACKUP_OPTIONS +
    '-f -i -n -T -u -v -Z --force --interactive --no-clobber --no-target-directory --strip-trailing-slashes ' +
    '--update? --verbose --context --no-copy --debug',
  INTO_DIR,
);
const lnOptions = options(
  BACKUP_OPTIONS +
    '-d -F -f -i -L -n -P -r -s -T -v --directory --force --interactive --logical --no-dereference --physical ' +
    '--relative --symbolic --no-target-directory --verbose',
  INTO_DIR,
);
// No --strip-program (runs a program of the caller's choosing).
const installOptions = options(
  BACKUP_OPTIONS +
    '-C -c -d -D -p -s -T -v -Z -g:T -m:T -o:T --compare --directory --group:T --mode:T --owner:T ' +
    '--preserve-timestamps --strip --no-target-directory --verbose --preserve-context --context?',
  INTO_DIR,
);

/** A writer whose options are parsed generically and whose targets come from the parsed arguments. */
function generic(
  spec: OptionSpec[],
  targets: (p: Parsed, ctx: WriterContext) => RawTarget[] | string,
  maxPositional?: number,
): Writer {
  return (args, ctx, name) => {
    const p = parse(name, spec, args, maxPositional);
    if (typeof p === 'string') return unknown(p);
    if (has(p, ...BACKUP)) return unknown(`backup option of ${name} writes files named by the environment`);
    const result = targets(p, ctx);
    return typeof result === 'string' ? unknown(`${name}: ${result}`) : result;
  };
}

const cp = generic(cpOptions, (p, ctx) => {
  const tree = has(p, '-r', '-R', '-a', '--recursive', '--archive');
  if (has(p, '--parents')) {
    const dir = last(p, '-t', '--target-directory') ?? (texts(p).length > 1 ? texts(p).at(-1) : undefined);
    if (dir === undefined) return [];
    const sources = last(p, '-t', '--target-directory') ? texts(p) : texts(p).slice(0, -1);
    return each(
      sources.map((s) => `${dir}/${s}`),
      { tree, follow: true },
    );
  }
  const placed = place(p, ctx);
  return typeof placed === 'string'
    ? placed
    : each(placed.dests, { tree, follow: !has(p, '--remove-destination') });
});

const mv = generic(mvOptions, (p, ctx) => {
  const placed = place(p, ctx);
  // A renamed directory takes everything below it along, at both ends.
  return typeof placed === 'string' ? placed : each([...placed.sources, ...placed.dests], { tree: true });
});

const ln = generic(lnOptions, (p, ctx) => {
  const placed = place(p, ctx, { defaultHere: true, follow: !has(p, '-n', '--no-dereference') });
  return typeof placed === 'string' ? placed : each(placed.dests);
});

const install = generic(installOptions, (p, ctx) => {
  if (has(p, '-d', '--directory')) return each(texts(p));
  const placed = place(p, ctx);
  return typeof placed === 'string' ? placed : each(placed.dests);
});

const operands =
  (treeFlags: string[] = [], follow: (p: Parsed) => boolean = () => false) =>
  (p: Parsed): RawTarget[] =>
    each(texts(p), { tree: has(p, ...treeFlags), follow: follow(p) });

/** `rmdir -p a/b/c` also removes `a/b` and `a`. */
function withParents(paths: string[]): string[] {
  return paths.flatMap((path) => {
    const chain: string[] = [];
    for (let p = path.replace(/\/+$/, ''); p !== '' && p !== '.' && p !== '/';) {
      chain.push(p);
      const cut = p.lastIndexOf('/');
      p = cut < 0 ? '' : p.slice(0, cut).replace(/\/+$/, '');
    }
    return chain;
  });
}

/** chmod, chown and chgrp: a mode or owner first unless `--reference` is given. */
function modeChanger(spec: OptionSpec[], follow: (p: Parsed) => boolean, modeWord?: RegExp): Writer {
  return (args, _ctx, name) => {
    // `chmod -x f`: GNU chmod reads a dash-led symbolic mode as the mode, not as options.
    const modeAt = modeWord ? args.findIndex((w) => w.literal && modeWord.test(w.text)) : -1;
    const end = args.findIndex((w) => w.literal && w.text === '--');
    const pulled = modeAt >= 0 && (end < 0 || modeAt < end);
    const p = parse(name, spec, pulled ? args.filter((_, i) => i !== modeAt) : args);
    if (typeof p === 'string') return unknown(p);
    const files = pulled || has(p, '--reference') ? texts(p) : texts(p).slice(1);
    return each(files, { tree: has(p, '-R', '--recursive'), follow: follow(p) });
  };
}
const ownerOptions = options(
  '-c -f -v -h -R -H -L -P --changes --silent --quiet --verbose --dereference --no-dereference --from:T ' +
    '--no-preserve-root --preserve-root --reference:P --recursive',
);

const tee: Writer = (args, ctx, name) => {
  const p = parse(name, options('-a -i -p --append --ignore-interrupts --output-error?'), args);
  if (typeof p === 'string') return unknown(p);
  // GNU tee has treated "-" both as standard output and as a file over its versions.
  if (texts(p).includes('-')) return unknown('tee operand "-" is standard output or a file, by version');
  return each(texts(p), THROUGH);
};

const DD_OPERANDS = new Set(
  'if of ibs obs bs cbs skip seek count conv iflag oflag status iseek oseek'.split(' '),
);
const dd: Writer = (args) => {
  const targets: RawTarget[] = [];
  for (const w of args) {
    const eq = w.text.indexOf('=');
    const key = eq > 0 ? w.text.slice(0, eq) : '';
    if (!w.literal) return unknown(`non-literal dd operand ${show(w)}`);
    if (!DD_OPERANDS.has(key)) return unknown(`unknown dd operand ${show(w)}`);
    if (key === 'of') targets.push({ path: w.text.slice(eq + 1), follow: true });
  }
  return targets;
};

const SED_FLAGS = new Set('nErsuzb'.split(''));
const SED_LONG_FLAGS = new Set(
  '--quiet --silent --regexp-extended --separate --unbuffered --null-data --posix --sandbox --debug --binary'.split(
    ' ',
  ),
);

/** sed: a target only with -i; its script must be literal and free of `w` and `e` (checkSedScript). */
const sed: Writer = (args) => {
  let inPlace = false;
  let follow = false;
  let suffix = '';
  let endOfOptions = false;
  const scripts: string[] = [];
  const files: WordInfo[] = [];
  const literalValue = (w: WordInfo | undefined, option: string): string | { unknown: string } =>
    w === undefined
      ? unknown(`sed option "${option}" needs an argument`)
      : w.literal
        ? w.text
        : unknown(`non-literal sed script ${show(w)}`);
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (endOfOptions || !mayBeOption(w)) {
      files.push(w);
      continue;
    }
    if (!w.literal) return unknown(`non-literal word ${show(w)} in option position for sed`);
    const t = w.text;
    if (t === '--') {
      endOfOptions = true;
      continue;
    }
    if (t.startsWith('--')) {
      const eq = t.indexOf('=');
      const opt = eq > 0 ? t.slice(0, eq) : t;
      const attached = eq > 0 ? { ...w, text: t.slice(eq + 1) } : undefined;
      if (opt === '--in-place') {
        inPlace = true;
        suffix = attached?.text ?? '';
      } else if (opt === '--expression') {
        const v = literalValue(attached ?? args[++i], opt);
        if (typeof v !== 'string') return v;
        scripts.push(v);
      } else if (opt === '--follow-symlinks' && !attached) {
        follow = true;
      } else if (opt === '--line-length') {
        if (!attached) i++;
      } else if (!SED_LONG_FLAGS.has(opt) || attached) return unknown(`unknown option "${opt}" for sed`);
      continue;
    }
    for (let j = 1; j < t.length; j++) {
      const c = t[j]!;
      if (SED_FLAGS.has(c)) continue;
      // GNU sed reads the rest of the token as the backup suffix: `-in` is -i with suffix "n".
      if (c === 'i') {
        inPlace = true;
        suffix = t.slice(j + 1);
        break;
      }
      if (c === 'e' || c === 'l') {
        const rest = t.slice(j + 1);
        const value = rest ? { ...w, text: rest } : args[++i];
        if (c === 'e') {
          const v = literalValue(value, '-e');
          if (typeof v !== 'string') return v;
          scripts.push(v);
        }
        break;
      }
      if (c === 'f') return unknown('a sed script file (-f) is not known before it runs');
      return unknown(`unknown option "-${c}" in "${t}" for sed`);
    }
  }
  if (scripts.length === 0) {
    const script = files.shift();
    const v = literalValue(script, 'script');
    if (typeof v !== 'string') return v;
    scripts.push(v);
  }
  for (const s of scripts) {
    const reason = checkSedScript(s);
    if (reason) return unknown(`sed script: ${reason}`);
  }
  if (!inPlace) return [];
  const targets: RawTarget[] = [];
  for (const f of files) {
    if (!f.literal) return unknown(`non-literal file ${show(f)} for sed -i`);
    if (f.text === '-') return unknown('sed -i on "-"');
    targets.push({ path: f.text, follow });
  }
  if (suffix.includes('*') || suffix.includes('/'))
    return unknown(`sed backup suffix "${suffix}" places backups elsewhere`);
  return suffix ? [...targets, ...targets.map((t) => ({ path: t.path + suffix }))] : targets;
};

// tar: only the archive a create/append/update writes; an extraction writes the archive's own names.
const TAR_OPS = new Map(
  Object.entries({
    c: 'c',
    r: 'r',
    u: 'u',
    A: 'A',
    x: 'x',
    t: 't',
    d: 'd',
    '--create': 'c',
    '--append': 'r',
    '--update': 'u',
    '--catenate': 'A',
    '--concatenate': 'A',
    '--delete': 'delete',
    '--extract': 'x',
    '--get': 'x',
    '--list': 't',
    '--diff': 'd',
    '--compare': 'd',
  }),
);
const TAR_FLAGS = new Set('vzjJapkhPOmoSWlBiU'.split(''));
const TAR_ARGS = new Set('fCbTXH'.split(''));
const TAR_LONG_FLAGS = new Set(
  (
    '--verbose --gzip --gunzip --bzip2 --xz --zstd --auto-compress --preserve-permissions --same-permissions ' +
    '--keep-old-files --skip-old-files --overwrite --dereference --absolute-names --to-stdout --touch ' +
    '--same-owner --no-same-owner --numeric-owner --sparse --verify --one-file-system --wildcards ' +
    '--no-wildcards --anchored --exclude-vcs --totals'
  ).split(' '),
);
const TAR_LONG_ARGS = new Set(
  '--file --directory --blocking-factor --files-from --exclude-from --format --exclude --strip-components'.split(
    ' ',
  ),
);

const tar: Writer = (args) => {
  const ops = new Set<string>();
  const flags = new Set<string>();
  const archives: WordInfo[] = [];
  // Records one option; `value` supplies its argument when it takes one. Returns why it is refused.
  const option = (key: string, shown: string, value: () => WordInfo | undefined): string | null => {
    const op = TAR_OPS.get(key);
    if (op) ops.add(op);
    else if (TAR_FLAGS.has(key) || TAR_LONG_FLAGS.has(key)) flags.add(key);
    else if (TAR_ARGS.has(key) || TAR_LONG_ARGS.has(key)) {
      const w = value();
      if (!w) return `tar option "${shown}" needs an argument`;
      if (key === 'f' || key === '--file') archives.push(w);
    } else return `unknown tar option "${shown}"`;
    return null;
  };
  let i = 0;
  // Old style: `tar czf ARCHIVE DIR`, the letters' arguments following in order.
  const first = args[0];
  if (first?.literal && /^[A-Za-z]+$/.test(first.text)) {
    i = 1;
    for (const c of first.text) {
      const reason = option(c, c, () => args[i++]);
      if (reason) return unknown(reason);
    }
  }
  for (; i < args.length; i++) {
    const w = args[i]!;
    if (!mayBeOption(w)) continue;
    if (!w.literal) return unknown(`non-literal word ${show(w)} in option position for tar`);
    const t = w.text;
    if (t === '--') break;
    if (t.startsWith('--')) {
      const eq = t.indexOf('=');
      const opt = eq > 0 ? t.slice(0, eq) : t;
      if (eq > 0 && !TAR_LONG_ARGS.has(opt)) return unknown(`tar option "${opt}" takes no argument`);
      const reason = option(opt, opt, () => (eq > 0 ? { ...w, text: t.slice(eq + 1) } : args[++i]));
      if (reason) return unknown(reason);
      continue;
    }
    for (let j = 1; j < t.length; j++) {
      const c = t[j]!;
      const rest = t.slice(j + 1);
      const reason = option(c, c, () => (rest ? { ...w, text: rest } : args[++i]));
      if (reason) return unknown(reason);
      if (TAR_ARGS.has(c)) break;
    }
  }
  if (ops.size !== 1) return unknown('tar needs exactly one of -c, -r, -u, -A, -x, -t, -d, --delete');
  const op = [...ops][0]!;
  if (op === 't' || op === 'd') return [];
  if (op === 'x')
    return flags.has('O') || flags.has('--to-stdout')
      ? []
      : unknown('tar -x writes the names inside the archive, which are not known before it runs');
  const archive = archives.at(-1);
  if (!archive) return unknown('tar without -f writes to the default tape device');
  if (!archive.literal) return unknown(`non-literal tar archive ${show(archive)}`);
  return archive.text === '-' ? [] : [{ path: archive.text, follow: true }];
};

const sortWriter = generic(options('', '-o --output').concat(programs.sort!.options!), (p) =>
  each(last(p, '-o', '--output') === undefined ? [] : [last(p, '-o', '--output')!], THROUGH),
);

const uniqWriter = generic(
  programs.uniq!.options!,
  (p) => (texts(p).length === 2 && texts(p)[1] !== '-' ? each([texts(p)[1]!], THROUGH) : []),
  2,
);

/** Every program whose written paths can be read from its arguments, by name. */
export const writers: Record<string, Writer> = {
  cp,
  mv,
  ln,
  install,
  rm: generic(
    options(
      '-f -i -I -r -R -d -v --force --interactive? --one-file-system --no-preserve-root --preserve-root? --recursive --dir --verbose',
    ),
    operands(['-r', '-R', '--recursive']),
  ),
  rmdir: generic(options('-p -v --ignore-fail-on-non-empty --parents --verbose'), (p) =>
    each(has(p, '-p', '--parents') ? withParents(texts(p)) : texts(p)),
  ),
  mkdir: generic(options('-p -v -Z -m:T --mode:T --parents --verbose --context?'), operands()),
  touch: generic(
    options('-a -c -f -h -m -d:T -r:P -t:T --no-create --date:T --reference:P --time:T --no-dereference'),
    operands([], (p) => !noDereference(p)),
  ),
  truncate: generic(
    options('-c -o -r:P -s:T --no-create --io-blocks --reference:P --size:T'),
    operands([], () => true),
  ),
  shred: generic(
    options(
      '-f -u -v -x -z -n:N -s:T --force --iterations:N --random-source:P --size:T --remove? --verbose --exact --zero',
    ),
    operands([], () => true),
  ),
  unlink: generic([], operands(), 1),
  link: generic([], (p) => (texts(p).length === 2 ? each([texts(p)[1]!]) : []), 2),
  mkfifo: generic(options('-Z -m:T --mode:T --context?'), operands()),
  chmod: modeChanger(
    options(
      '-c -f -v -R --changes --silent --quiet --verbose --no-preserve-root --preserve-root --recursive --reference:P',
    ),
    // chmod never changes a symlink itself.
    () => true,
    /^-[rwxXst]+$/,
  ),
  chown: modeChanger(ownerOptions, (p) => !noDereference(p)),
  chgrp: modeChanger(ownerOptions, (p) => !noDereference(p)),
  tee,
  dd,
  sed,
  tar,
  sort: sortWriter,
  uniq: uniqWriter,
};
