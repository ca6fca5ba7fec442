import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { git as gitSpec } from '../policy/programs/git.ts';
import { unwrap } from '../policy/programs/wrappers.ts';
import type { WordInfo } from '../policy/words.ts';
import { Unplannable } from './expand.ts';

const run = promisify(execFile);

/**
 * Repository config can make even `git status` run programs: fsmonitor hooks, clean/smudge filters, external
 * diff and textconv drivers, pagers, signature verifiers. These command-line settings win over every config
 * file, and git passes them on to the git processes it starts itself.
 */
const FORCED_CONFIG = [
  'core.fsmonitor=false',
  'core.pager=cat',
  'core.hooksPath=/dev/null',
  'diff.external=',
  'diff.submodule=short',
  'diff.ignoreSubmodules=dirty',
  'gpg.program=gpg',
  'gpg.ssh.program=ssh-keygen',
  'gpg.x509.program=gpgsm',
];
const GLOBAL_FLAGS = ['--no-pager', '--no-optional-locks'];
/** Subcommands that accept the diff options turning drivers off, and which of them. */
const DRIVER_FLAGS: Record<string, string[]> = {
  diff: ['--no-ext-diff', '--no-textconv'],
  log: ['--no-ext-diff', '--no-textconv'],
  show: ['--no-ext-diff', '--no-textconv'],
  'stash show': ['--no-ext-diff', '--no-textconv'],
  blame: ['--no-textconv'],
};
/** Checking a submodule's worktree starts a git inside it, under config that was never scanned. */
const SUBMODULE_WORKTREE = new Set(['status', 'diff']);
/** Driver settings that name a program, by config section. */
const DRIVER_KEYS: Record<string, string[]> = {
  filter: ['clean', 'smudge', 'process'],
  diff: ['command', 'textconv'],
};

const globalOptions = new Map((gitSpec.options ?? []).map((o) => [o.name, o]));
const word = (text: string): WordInfo => ({
  text,
  literal: true,
  prefix: text,
  multi: false,
  substitutions: [],
});

/** Where in argv git itself is invoked (argv[0], or behind env/timeout/nice/…); null when it is not run. */
export function gitIndex(argv: readonly string[]): number | null {
  let at = 0;
  for (let hops = 0; hops < 8 && at < argv.length; hops++) {
    const name = basename(argv[at]!);
    if (name === 'git') return at;
    const wrapped = unwrap(name, argv.slice(at + 1).map(word));
    if (!wrapped || wrapped.lookup || wrapped.command.length === 0) return null;
    at = argv.length - wrapped.command.length;
  }
  return null;
}

interface GitCall {
  /** Global options that choose the repository (-C, --git-dir, --work-tree, --bare). */
  repoOptions: string[];
  /** Index of the subcommand word in argv. */
  sub: number;
}

function parseCall(argv: readonly string[], at: number): GitCall {
  const repoOptions: string[] = [];
  let i = at + 1;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) break;
    const name = a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    const takesValue = globalOptions.get(name)?.arg !== undefined && !a.includes('=');
    const selects = ['-C', '--git-dir', '--work-tree', '--bare'].includes(name);
    if (selects) repoOptions.push(a);
    if (takesValue) {
      i++;
      if (selects && argv[i] !== undefined) repoOptions.push(argv[i]!);
    }
  }
  return { repoOptions, sub: i };
}

/** Settings that blank every filter and diff driver the repository's config defines, by name. */
export function driverOverrides(configNames: string): string[] {
  const out = new Set<string>();
  for (const line of configNames.split('\n')) {
    const first = line.indexOf('.');
    const last = line.lastIndexOf('.');
    if (first < 0 || last === first) continue;
    const section = line.slice(0, first).toLowerCase();
    const name = line.slice(first + 1, last);
    const keys = DRIVER_KEYS[section];
    if (!keys) continue;
    if (/[=\n]/.test(name))
      throw new Unplannable(`git ${section} driver "${name}" whose name cannot be overridden`);
    for (const key of keys) out.add(`${section}.${name}.${key}=`);
    if (section === 'filter') out.add(`filter.${name}.required=false`);
  }
  return [...out];
}

/** Options that make git start itself inside submodules, whose config the driver scan never read. */
export function checkGitArgs(argv: readonly string[], at: number): void {
  for (const a of argv.slice(parseCall(argv, at).sub)) {
    if (/^--ignore-submodules=(none|untracked)$/.test(a) || a === '--submodule=diff')
      throw new Unplannable(`the git option "${a}", which runs git inside submodules`);
  }
}

/**
 * The argv git runs with: forced config and global flags first, the repository's own drivers blanked by
 * name (found with a `git config` that reads the same files), the driver-off flags after the subcommand.
 */
export async function hardenGit(
  argv: readonly string[],
  at: number,
  options: { git: string; cwd: string; env: Record<string, string> },
): Promise<string[]> {
  checkGitArgs(argv, at);
  const { repoOptions, sub } = parseCall(argv, at);
  const rest = argv.slice(sub);
  const forced = FORCED_CONFIG.flatMap((c) => ['-c', c]);
  let names = '';
  try {
    const scan = await run(
      options.git,
      [...repoOptions, ...forced, 'config', '--name-only', '--get-regexp', '^(filter|diff)\\.'],
      { cwd: options.cwd, env: options.env, timeout: 10_000, maxBuffer: 1 << 20 },
    );
    names = scan.stdout;
  } catch (err) {
    // Exit 1 means no driver is configured; other failures make the real command fail the same way.
    names = String((err as { stdout?: unknown }).stdout ?? '');
  }
  const drivers = driverOverrides(names).flatMap((c) => ['-c', c]);
  const subName = rest[0] === 'stash' && rest[1] === 'show' ? 'stash show' : (rest[0] ?? '');
  const subWords = subName.split(' ').length;
  const extra = [...(DRIVER_FLAGS[subName] ?? [])];
  if (SUBMODULE_WORKTREE.has(subName) && !rest.some((a) => a.startsWith('--ignore-submodules')))
    extra.push('--ignore-submodules=dirty');
  return [
    ...argv.slice(0, at + 1),
    ...GLOBAL_FLAGS,
    ...forced,
    ...drivers,
    ...argv.slice(at + 1, sub),
    ...rest.slice(0, subWords),
    ...extra,
    ...rest.slice(subWords),
  ];
}
