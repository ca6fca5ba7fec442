import { homedir } from 'node:os';
import { globMatch, isGlob } from './glob.ts';
import { followedPath, isSink, isSinkPath, lexicalPath, physicalPath } from './paths.ts';
import type { Policy } from './policy.ts';
import { writeTargets, type WriteTargets } from './targets.ts';

/** Why a write is refused: the path as given and the protected entry it reaches. */
export interface ProtectedRefusal {
  path: string;
  entry: string;
  reason: string;
}

export interface ProtectOptions {
  /** The operator's own state directory (`.dropops/`, relative to the process's directory), always protected. */
  stateDir: string;
  /** What relative paths are relative to; the process's directory by default. */
  cwd?: string;
  /** What `~` in a command means; this user's home directory by default. */
  home?: string;
}

interface Entry {
  shown: string;
  /** The entry's components, lexically and through its symlinks, lower-cased. */
  forms: string[][];
}

// Compared without regard to case, so a case-insensitive filesystem cannot be used to slip past.
const componentsOf = (absolute: string) => absolute.toLowerCase().split('/').filter(Boolean);

/** The entry's real location too: symlinks are resolved up to its first glob component. */
function entryOf(shown: string): Entry {
  const expanded = shown === '~' || shown.startsWith('~/') ? homedir() + shown.slice(1) : shown;
  const lexical = lexicalPath(expanded, '/');
  const parts = lexical.split('/').filter(Boolean);
  const cut = parts.findIndex(isGlob);
  const literal = '/' + (cut < 0 ? parts : parts.slice(0, cut)).join('/');
  const real = [followedPath(literal, '/'), ...(cut < 0 ? [] : parts.slice(cut))].join('/');
  return { shown, forms: [componentsOf(lexical), componentsOf(real)] };
}

function entriesOf(policy: Policy, stateDir: string): Entry[] {
  return [...policy.protectedPaths, lexicalPath(stateDir, process.cwd())].map(entryOf);
}

const matches = (glob: string, component: string) =>
  isGlob(glob) ? globMatch(glob, component) : glob === component;

/** `path` is the entry or below it. */
const within = (path: string[], entry: string[]) =>
  entry.length <= path.length && entry.every((g, i) => matches(g, path[i]!));
/** Something the entry names lies inside the tree `path`. */
const encloses = (path: string[], entry: string[]) =>
  path.length <= entry.length && path.every((c, i) => matches(entry[i]!, c));

function refusal(path: string, entries: Entry[], cwd: string, tree: boolean): ProtectedRefusal | null {
  if (isSink(path, cwd)) return null;
  // The path as written, as the kernel walks it, and where a write through a final symlink lands.
  const candidates = [lexicalPath(path, cwd), physicalPath(path, cwd), followedPath(path, cwd)]
    .filter((c) => !isSinkPath(c))
    .map(componentsOf);
  for (const entry of entries)
    for (const form of entry.forms)
      for (const candidate of candidates) {
        if (within(candidate, form))
          return { path, entry: entry.shown, reason: `"${path}" is protected by "${entry.shown}"` };
        if (tree && encloses(candidate, form))
          return {
            path,
            entry: entry.shown,
            reason: `"${path}" holds "${entry.shown}", which is protected`,
          };
      }
  return null;
}

/** For the file-write tool: null when `path` may be written, else why not. */
export function checkWritable(
  path: string,
  policy: Policy,
  options: ProtectOptions,
): ProtectedRefusal | null {
  const cwd = options.cwd ?? process.cwd();
  return refusal(path, entriesOf(policy, options.stateDir), cwd, false);
}

/** For approved commands: every known target that reaches a protected path (trees: or holds one). */
export function protectedTargets(
  targets: Pick<WriteTargets, 'paths' | 'trees'>,
  policy: Policy,
  { stateDir }: Pick<ProtectOptions, 'stateDir'>,
): ProtectedRefusal[] {
  if (targets.paths.length === 0) return [];
  const entries = entriesOf(policy, stateDir);
  const trees = new Set(targets.trees);
  return targets.paths.flatMap((p) => refusal(p, entries, '/', trees.has(p)) ?? []);
}

/**
 * Why a command line is refused for what it writes, or null. Only targets known exactly count: an
 * unknown one (a variable, a script) is left to the human who approves it.
 */
export function protectedWrite(
  command: string,
  policy: Policy,
  { cwd = process.cwd(), stateDir, home = homedir() }: ProtectOptions,
): string | null {
  // Same user, so the same HOME is the likely one: a guess that can only refuse more.
  const targets = writeTargets(command, { cwd, home });
  const [first] = protectedTargets(targets, policy, { stateDir });
  return first ? `writes a protected path: ${first.reason}` : null;
}
