import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, posix } from 'node:path';

/** Programs named by path are trusted only in the root-owned system directories. */
export const SYSTEM_PROGRAM = /^\/(usr\/(local\/)?)?s?bin\/[^/]+$/;

// Kernel-made sinks and streams: writing to them changes no file, and only root can replace them.
const SINKS = new Set([
  '/dev/null',
  '/dev/zero',
  '/dev/full',
  '/dev/random',
  '/dev/urandom',
  '/dev/tty',
  '/dev/stdin',
  '/dev/stdout',
  '/dev/stderr',
]);
const FD_PATH = /^\/(dev|proc\/self)\/fd\/\d+$/;

// lstat first: a thrown error costs more than the system call, and most misses are plain ENOENT.
function lstatOrNull(path: string) {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

function realOrNull(path: string): string | null {
  if (!lstatOrNull(path)) return null;
  try {
    return realpathSync.native(path);
  } catch {
    return null;
  }
}

// Not path.join, which would resolve `..` lexically.
const absoluteOf = (path: string, cwd: string) => (isAbsolute(path) ? path : `${cwd}/${path}`);

/** `//`, `/./` and a trailing slash removed, `..` kept: the path as the kernel will walk it. */
const components = (absolute: string) => absolute.split('/').filter((c) => c !== '' && c !== '.');

/** Normalizes a path lexically against `cwd`, `..` included (may differ from the kernel's view). */
export const lexicalPath = (path: string, cwd: string) => posix.resolve(cwd, path);

/**
 * The path as the kernel resolves it: every existing ancestor through its symlinks (so `..` is taken
 * physically), the missing rest lexically. The last component is followed only when the path ends
 * with `/` (as the kernel does), so a symlink names itself, not its target.
 */
export function physicalPath(path: string, cwd: string): string {
  const absolute = absoluteOf(path, cwd);
  const parts = components(absolute);
  const followLast = /\/\.?$/.test(absolute);
  // Fast path: the whole directory part exists, so one realpath resolves it as the kernel would.
  const last = followLast ? undefined : parts.at(-1);
  const parent = realOrNull('/' + (last === undefined ? parts : parts.slice(0, -1)).join('/'));
  if (parent !== null)
    return last === undefined ? parent : last === '..' ? dirname(parent) : join(parent, last);
  let dir = '/';
  let resolving = true;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '..') {
      dir = dirname(dir);
      continue;
    }
    const next = join(dir, part);
    if (resolving && (i < parts.length - 1 || followLast)) {
      const real = realOrNull(next);
      if (real) {
        dir = real;
        continue;
      }
      resolving = false;
    }
    dir = next;
  }
  return dir;
}

/**
 * Where a write through `path` lands: the physical path, then its own symlinks followed, dangling
 * ones too (writing through a dangling link creates its target).
 */
export function followedPath(path: string, cwd: string): string {
  let resolved = physicalPath(path, cwd);
  // The kernel gives up after 40 links (ELOOP), and so does this.
  for (let hops = 0; hops < 40; hops++) {
    if (!lstatOrNull(resolved)?.isSymbolicLink()) return resolved;
    let link: string;
    try {
      link = readlinkSync(resolved);
    } catch {
      return resolved;
    }
    resolved = physicalPath(link, dirname(resolved));
  }
  return resolved;
}

/** A resolved path that is a device sink or a descriptor (`/dev/null`, `/dev/fd/2`…), not a file. */
export const isSinkPath = (absolute: string) => SINKS.has(absolute) || FD_PATH.test(absolute);

/** `path` names a sink, as written or as the kernel walks it: no file to record or protect. */
export function isSink(path: string, cwd: string): boolean {
  // Only `.` and `//` are dropped here: a `..` could climb out of a symlinked directory.
  const plain = '/' + components(absoluteOf(path, cwd)).join('/');
  return isSinkPath(plain) || isSinkPath(physicalPath(path, cwd));
}
