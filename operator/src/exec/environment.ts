import { realpathSync, statSync, type Stats } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, isAbsolute, join, normalize } from 'node:path';

/** The only directories programs are taken from, in this order; those that fail `isTrustedDir` are dropped. */
export const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

const LOCALE = /^[A-Za-z0-9_.@-]{1,64}$/;
const USER_NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}$/;

/** Owned by root and writable by nobody else: nobody but root can plant a program or a file in it. */
function rootOnly(st: Stats): boolean {
  return st.uid === 0 && (st.mode & 0o022) === 0;
}

/** The directory and every directory above it (after following symlinks) is root's alone. */
export function isTrustedDir(dir: string): boolean {
  if (!isAbsolute(dir)) return false;
  try {
    for (let d = dir; ; d = dirname(d)) {
      const st = statSync(d);
      if (!st.isDirectory() || !rootOnly(st)) return false;
      if (d === '/') return true;
    }
  } catch {
    return false;
  }
}

let trusted: string[] | undefined;

/** SYSTEM_PATH without the directories that are missing or could be written by someone other than root. */
export function trustedDirs(candidates: readonly string[] = SYSTEM_PATH): string[] {
  if (candidates === SYSTEM_PATH && trusted) return trusted;
  const dirs = candidates.filter(isTrustedDir);
  if (candidates === SYSTEM_PATH) trusted = dirs;
  return dirs;
}

/**
 * The whole environment an executed command gets: an allowlist, so nothing the operator inherited
 * (BASH_ENV, LD_PRELOAD, GIT_*, PAGER, KUBECONFIG, ...) reaches a child.
 */
export function scrubbedEnv(parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const me = userInfo();
  const home = parent.HOME && isAbsolute(parent.HOME) ? normalize(parent.HOME) : me.homedir;
  const env: Record<string, string> = {
    PATH: trustedDirs().join(':'),
    HOME: home,
    USER: parent.USER && USER_NAME.test(parent.USER) ? parent.USER : me.username,
    LANG: parent.LANG && LOCALE.test(parent.LANG) ? parent.LANG : 'C.UTF-8',
    LC_ALL: parent.LC_ALL && LOCALE.test(parent.LC_ALL) ? parent.LC_ALL : 'C.UTF-8',
    TERM: 'dumb',
  };
  return env;
}

/** An executable regular file that root alone can change, wherever its symlinks lead. */
function isTrustedProgram(path: string): boolean {
  try {
    const st = statSync(path);
    return (
      st.isFile() && (st.mode & 0o111) !== 0 && rootOnly(st) && isTrustedDir(dirname(realpathSync(path)))
    );
  } catch {
    return false;
  }
}

/**
 * The absolute path of a program, looked up in the trusted directories only (never the inherited PATH, never
 * the working directory). A name with a slash must already be a path inside one of those directories.
 * Returns null when there is no such program.
 */
export function resolveProgram(name: string, dirs: readonly string[] = trustedDirs()): string | null {
  if (name === '' || name.includes('\0')) return null;
  if (name.includes('/')) {
    if (!isAbsolute(name) || normalize(name) !== name) return null;
    return dirs.includes(dirname(name)) && isTrustedProgram(name) ? name : null;
  }
  for (const dir of dirs) {
    const path = join(dir, name);
    if (isTrustedProgram(path)) return path;
  }
  return null;
}
