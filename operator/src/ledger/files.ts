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

/** What a real path holds right now: a regular file's bytes and executable bit, or nothing. */
export type FileState = { content: Buffer; executable: boolean } | null;

const notRegular = (path: string, stats: Stats) =>
  new LedgerError(
    'NOT_A_REGULAR_FILE',
    `${path} is ${stats.isDirectory() ? 'a directory' : 'not a regular file (a device, socket, FIFO or symlink)'}; only regular files are mirrored.`,
  );

/** Reads a canonical path: its bytes and executable bit when it is a regular file, null when nothing is there. */
export function readState(path: string): FileState {
  const before = lstatOrNull(path);
  if (!before) return null;
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
    if (!stats.isFile()) throw notRegular(path, stats);
    return { content: readFileSync(fd), executable: (stats.mode & 0o100) !== 0 };
  } finally {
    closeSync(fd);
  }
}

const restoreFailed = (path: string, err: unknown) =>
  new LedgerError(
    'RESTORE_FAILED',
    errno(err) === 'ENOENT'
      ? `Cannot restore ${path}: its directory ${dirname(path)} no longer exists; create it first.`
      : `Cannot restore ${path}: ${(err as Error).message}. The file was left as it was.`,
  );

/**
 * Replaces `path` with `content`. An existing file keeps its owner and permissions, with the executable
 * bits set or cleared to match the version restored; a new file gets 0644 or 0755.
 */
export function writeAtomically(path: string, content: Buffer, executable: boolean): void {
  const current = lstatOrNull(path);
  const base = current ? current.mode & 0o7777 : executable ? 0o755 : 0o644;
  const mode = executable ? base | ((base & 0o444) >> 2) : base & ~0o111;
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
    throw restoreFailed(path, err);
  }
}

/** Removes `path` (restoring a version in which it did not exist); already gone is fine. */
export function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw restoreFailed(path, err);
  }
}
