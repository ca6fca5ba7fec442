import { lstatSync, realpathSync, type Stats } from 'node:fs';
import { basename, dirname, posix } from 'node:path';
import { LedgerError } from './errors.ts';

const CONTROL = /[\u0000-\u001f\u007f]/;
// The names git refuses as tree entries (fsck `hasDotgit`): `.git` in any case, with the trailing dots
// and spaces NTFS drops, its 8.3 alias, an NTFS stream suffix, or the Unicode that HFS+ ignores.
const HFS_IGNORED = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;
function isDotGit(name: string): boolean {
  let folded = name.replace(HFS_IGNORED, '').split(':')[0]!.toLowerCase();
  while (folded.endsWith('.') || folded.endsWith(' ')) folded = folded.slice(0, -1);
  return folded === '.git' || /^\.?git~[1-9]$/.test(folded);
}

const outside = (path: string, why: string) =>
  new LedgerError('PATH_OUTSIDE_TREE', `Refusing ${JSON.stringify(path)}: ${why}.`);

export const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** Rejects what is wrong with the spelling of a path alone, before the file system is asked anything. */
function checkSpelling(path: string): string {
  if (typeof path !== 'string' || path === '') throw outside(String(path), 'a path is required');
  if (CONTROL.test(path)) throw outside(path, 'it contains a NUL or control character');
  if (!path.startsWith('/')) throw outside(path, 'only absolute paths are mirrored');
  if (path.split('/').includes('..')) throw outside(path, 'it contains a ".." segment');
  const normal = posix.normalize(path);
  if (normal === '/') throw outside(path, 'the root directory is not a file');
  if (normal.endsWith('/')) throw outside(path, 'a trailing "/" names a directory, not a file');
  return normal;
}

/**
 * The canonical location of a file: every symlink resolved, including the file itself when it is a
 * link, so the ledger records (and restore writes) the file that really changed. Missing trailing
 * components are kept as spelled; a dangling symlink anywhere in the path is refused.
 */
function resolveLinks(normal: string): string {
  const missing: string[] = [];
  let head = normal;
  for (;;) {
    try {
      const real = realpathSync.native(head);
      return missing.length ? posix.join(real, ...missing) : real;
    } catch (err) {
      const code = errno(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      if (code === 'ENOENT' && lstatOrNull(head)?.isSymbolicLink())
        throw new LedgerError(
          'NOT_A_REGULAR_FILE',
          `${head} is a symlink to a missing file; give the path of the file itself.`,
        );
      missing.unshift(basename(head));
      head = dirname(head);
    }
  }
}

export function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** Decides where paths may be mirrored from: anywhere but inside the operator's own state directory. */
export class PathRules {
  private readonly guarded: string[];

  constructor(stateDir: string) {
    const lexical = posix.resolve(stateDir);
    this.guarded = [...new Set([lexical, realpathSync.native(lexical)])];
  }

  /** The canonical absolute path for `path`, or a `LedgerError` saying why it cannot be mirrored. */
  canonical(path: string): string {
    const normal = checkSpelling(path);
    this.refuseGuarded(path, normal);
    const real = resolveLinks(normal);
    this.refuseGuarded(path, real);
    if (CONTROL.test(real)) throw outside(path, `it resolves to ${JSON.stringify(real)}`);
    const bad = real.split('/').find(isDotGit);
    if (bad !== undefined)
      throw outside(path, `git cannot store a path component named ${JSON.stringify(bad)}`);
    return real;
  }

  private refuseGuarded(path: string, candidate: string): void {
    for (const dir of this.guarded)
      if (candidate === dir || candidate.startsWith(dir + '/'))
        throw outside(path, `it is inside the operator's state directory ${dir}`);
  }
}

/** The ledger tree path of a canonical absolute path, as components: `/etc/a.conf` → `['etc', 'a.conf']`. */
export const treeComponents = (canonical: string): string[] => canonical.slice(1).split('/');
