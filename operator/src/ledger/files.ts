// The real files the ledger mirrors: read without following a link or opening a device, and written
// back whole (temporary file in the same directory, then rename) so a reader never sees half a file.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { LedgerError } from './errors.ts';
import { errno, lstatOrNull } from './paths.ts';

/** What a real path holds right now: a regular file's bytes and executable bit, or no file (null). */
export type FileState = { content: Buffer; executable: boolean } | null;

export const notRegular = (path: string, stats: Stats) =>
  new LedgerError(
    'NOT_A_REGULAR_FILE',
    `${path} is ${stats.isDirectory() ? 'a directory' : 'not a regular file (a device, socket, FIFO or symlink)'}; only regular files are mirrored.`,
  );

/**
 * Reads a canonical path: its bytes and executable bit when it is a regular file, null when no file is there.
 * A directory is no file either: a file the ledger held where a directory now stands is gone, and the
 * files inside the directory are mirrored when they are named themselves.
 */
export function readState(path: string): FileState {
  const before = lstatOrNull(path);
  if (!before || before.isDirectory()) return null;
  // Checked before opening so that a device is never opened, and again on the descriptor in case of a swap.
  if (!before.isFile()) throw notRegular(path, before);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = errno(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    if (code === 'ELOOP') throw notRegular(path, lstatSync(path));
    throw new LedgerError('FILE_UNREADABLE', `Cannot read ${path}: ${(err as Error).message}.`);
  }
  try {
    const stats = fstatSync(fd);
    if (stats.isDirectory()) return null;
    if (!stats.isFile()) throw notRegular(path, stats);
    return { content: readFileSync(fd), executable: (stats.mode & 0o100) !== 0 };
  } finally {
    closeSync(fd);
  }
}

/** Why a whole-file write failed; `action` names what the caller was doing, for the code and the sentence. */
const writeFailed = (action: WriteAction, path: string, err: unknown) =>
  new LedgerError(
    action === 'restore' ? 'RESTORE_FAILED' : 'WRITE_FAILED',
    errno(err) === 'ENOENT'
      ? `Cannot ${action} ${path}: its directory ${dirname(path)} does not exist; create it first.`
      : `Cannot ${action} ${path}: ${(err as Error).message}. The file was left as it was.`,
  );

export type WriteAction = 'restore' | 'write';

/**
 * Replaces `path` with `content` (temporary file in the same directory, fsync, rename, fsync of the
 * directory), so a reader sees the old file or the new one, never half of either, and a crash keeps one. An
 * existing file keeps its owner and permissions, with the executable bits set or cleared to `executable`
 * when it is given; a new file gets 0644, or 0755 when executable.
 */
export function writeAtomically(
  path: string,
  content: Buffer,
  { executable, action = 'restore' }: { executable?: boolean; action?: WriteAction } = {},
): void {
  const current = lstatOrNull(path);
  const base = current ? current.mode & 0o7777 : executable ? 0o755 : 0o644;
  const mode = executable === undefined ? base : executable ? base | ((base & 0o444) >> 2) : base & ~0o111;
  const temp = join(dirname(path), `.${basename(path)}.dropops-${randomBytes(6).toString('hex')}`);
  let fd: number | undefined;
  try {
    fd = openSync(
      temp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    writeFileSync(fd, content);
    if (current && (current.uid !== process.getuid?.() || current.gid !== process.getgid?.()))
      fchownSync(fd, current.uid, current.gid);
    fchmodSync(fd, mode); // after chown, which clears set-id bits
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temp, { force: true });
    throw writeFailed(action, path, err);
  }
  syncDirectory(dirname(path));
}

/** Makes a rename in `dir` durable; a file system that cannot fsync a directory has nothing more to do. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(fd);
  } catch {
    // The rename itself has happened; only its durability across a power cut is left to the file system.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Removes `path` (restoring a version in which it did not exist); already gone is fine. */
export function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw writeFailed('restore', path, err);
  }
}
