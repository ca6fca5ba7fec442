// The write_file tool on the host: one file replaced by exactly the approved bytes, atomically, with the
// Ledger Mirror holding the version before and after.
import { createHash } from 'node:crypto';
import type { WireError } from '@dropops/protocol';
import { LedgerError, readState, writeAtomically } from '../ledger/index.ts';
import { lstatOrNull } from '../ledger/paths.ts';
import type { ChangeMeta, ChangeMirror, MirroredFile } from './change-mirror.ts';
import { Refusal } from './refusal.ts';

export interface FileWrite {
  /** Absolute, as requested; the ledger's canonical form is what gets written. */
  path: string;
  content: Buffer;
  /** sha256 hex the file must hold now, null for "no file yet", undefined for no check. */
  expectedSha256?: string | null;
}

export interface Written {
  written: { bytes: number; sha256: string; previousSha256: string | null };
  mirrored: MirroredFile[];
  /** The file was written but the ledger or vault could not record all of it. */
  failure: WireError | null;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Refuses a path the ledger cannot hold or that is not a file before the approval is looked at. */
export async function planWrite(mirror: ChangeMirror, path: string) {
  const set = await mirror.plan([path]);
  const target = set.paths[0]!;
  if (lstatOrNull(target)?.isDirectory())
    throw new Refusal('PATH_REFUSED', `${target} is a directory; write_file replaces files only.`);
  return set;
}

/**
 * Snapshots the file, checks it still holds what the approver saw, writes the new bytes (temporary file in
 * the same directory, fsync, rename; owner and mode kept) and commits them. A `Refusal` leaves the file as it
 * was; a ledger that fails after the write is reported in `failure`.
 */
export async function writeFile(mirror: ChangeMirror, write: FileWrite, meta: ChangeMeta): Promise<Written> {
  const pending = await mirror.before(await planWrite(mirror, write.path), meta);
  const path = pending.set.paths[0]!;
  let previous;
  try {
    previous = readState(path);
  } catch (err) {
    throw err instanceof LedgerError ? new Refusal('PATH_REFUSED', err.message) : err;
  }
  const previousSha256 = previous ? sha256(previous.content) : null;
  if (write.expectedSha256 !== undefined && write.expectedSha256 !== previousSha256)
    throw new Refusal(
      'FILE_CHANGED',
      previousSha256 === null
        ? `${path} does not exist, but the approval was for replacing a file; nothing was written.`
        : write.expectedSha256 === null
          ? `${path} exists now, but the approval was for creating it; nothing was written. Review it and approve again.`
          : `${path} changed since it was reviewed (sha256 ${previousSha256.slice(0, 12)}…, approved over ${write.expectedSha256.slice(0, 12)}…); nothing was written. Review it and approve again.`,
    );
  try {
    writeAtomically(path, write.content, { action: 'write' });
  } catch (err) {
    throw err instanceof LedgerError ? new Refusal('EXECUTION_FAILED', err.message) : err;
  }
  const written = { bytes: write.content.length, sha256: sha256(write.content), previousSha256 };
  return { written, ...(await mirror.after(pending, meta)) };
}
