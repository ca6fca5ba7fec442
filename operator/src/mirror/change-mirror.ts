// Mirrors what an approved change touches into the Ledger Mirror: a snapshot before it, so the version it
// replaces can be restored, then one ledger commit per changed file, each with a FILE_MUTATION vault event
// carrying its hash. Paths the ledger cannot hold are refused before anything runs.
import { readdirSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import type { WireError } from '@dropops/protocol';
import type { Logger } from 'pino';
import { LedgerError, openLedger, type Change, type Ledger, type Restored } from '../ledger/index.ts';
import { lstatOrNull } from '../ledger/paths.ts';
import { VaultError, type Vault } from '../vault/index.ts';
import { Refusal } from './refusal.ts';

/** More files than this under a change's trees is refused: mirroring them would be a backup, not a ledger. */
export const MAX_MIRRORED_FILES = 1000;

export interface ChangeMeta {
  executionId: string;
  approver: string;
}

/** What a change may touch, as the ledger records it (canonical paths). */
export interface ChangeSet {
  /** Named exactly: a file, or a place where one may appear or vanish. */
  paths: string[];
  /** Directories whose whole content may change (`rm -r`, `cp -r`, `mv`), walked before and after. */
  trees: string[];
}

/** A change whose files were snapshotted and that may now run. */
export interface PendingChange {
  set: ChangeSet;
  /** The files there were before it ran, so that those it removes are recorded too. */
  files: string[];
}

export interface MirroredFile {
  path: string;
  commit: string;
  /** Blob ids; null where there was (or now is) no file. */
  before: string | null;
  after: string | null;
}

// The path cannot be mirrored: refused as a path. Anything else (damaged, locked, disk full): the ledger.
const PATH_CODES = new Set(['PATH_OUTSIDE_TREE', 'NOT_A_REGULAR_FILE', 'FILE_UNREADABLE']);

function refusalOf(err: unknown): unknown {
  if (!(err instanceof LedgerError)) return err;
  if (err.code === 'UNKNOWN_COMMIT' || err.code === 'NOT_TRACKED') return new Refusal(err.code, err.message);
  return PATH_CODES.has(err.code)
    ? new Refusal('PATH_REFUSED', `the Ledger Mirror cannot record this change: ${err.message}`)
    : new Refusal(
        'LEDGER_UNAVAILABLE',
        `the Ledger Mirror cannot record changes, so nothing was changed: ${err.message}`,
      );
}

/** The change is made but recording it stopped: the ledger or the vault failed after `recorded` file(s). */
function recordingFailed(err: unknown, recorded: number): WireError {
  const code = err instanceof VaultError ? 'VAULT_UNAVAILABLE' : 'LEDGER_UNAVAILABLE';
  const message = `the change was made, but recording it failed after ${recorded} file(s): ${(err as Error).message}`;
  return { code, message: message.slice(0, 1000) };
}

/** A FIFO, socket or device holds no bytes to mirror; a missing path or a directory reads as "no file". */
function holdsNoBytes(canonical: string): boolean {
  const stats = lstatOrNull(canonical);
  return stats !== null && !stats.isFile() && !stats.isDirectory();
}

export class ChangeMirror {
  private opened: Promise<Ledger> | null = null;

  constructor(
    private readonly deps: {
      stateDir: string;
      vault: Vault;
      sessionId: string;
      log: Pick<Logger, 'warn'>;
    },
  ) {}

  /** The paths and trees a change names, as the ledger will record them; refuses what it cannot hold. */
  async plan(paths: readonly string[], trees: readonly string[] = []): Promise<ChangeSet> {
    const ledger = await this.ledger();
    try {
      const set = {
        paths: [...new Set(paths.map((p) => ledger.canonical(p)))],
        trees: [...new Set(trees.map((p) => ledger.canonical(p)))],
      };
      this.files(ledger, set, true);
      return set;
    } catch (err) {
      throw refusalOf(err);
    }
  }

  /** Commits whatever the files hold now that the ledger lacks, so the change can be undone. */
  async before(set: ChangeSet, meta: ChangeMeta): Promise<PendingChange> {
    const ledger = await this.ledger();
    try {
      const files = this.files(ledger, set, true);
      await ledger.snapshot(files, meta);
      return { set, files };
    } catch (err) {
      throw refusalOf(err);
    }
  }

  /**
   * Records every file that changed, one ledger commit each, with a FILE_MUTATION event per commit. A file
   * that cannot be read now is left out with a warning. When the ledger or the vault fails, what was
   * recorded so far stands and `failure` says what is missing; it never throws, because the change is made.
   */
  async after(
    pending: PendingChange,
    meta: ChangeMeta,
  ): Promise<{ mirrored: MirroredFile[]; failure: WireError | null }> {
    const mirrored: MirroredFile[] = [];
    try {
      const ledger = await this.ledger();
      const files = [...new Set([...pending.files, ...this.files(ledger, pending.set, false)])].sort();
      for (const path of files) {
        let committed;
        try {
          committed = await ledger.record({ paths: [path], ...meta });
        } catch (err) {
          if (!(err instanceof LedgerError && PATH_CODES.has(err.code))) throw err;
          this.deps.log.warn({ executionId: meta.executionId, path, code: err.code }, err.message);
          continue;
        }
        if (!committed.commit) continue;
        mirrored.push(this.mutated(path, committed.commit, committed.changed[0]!, meta));
      }
      return { mirrored, failure: null };
    } catch (err) {
      return { mirrored, failure: recordingFailed(err, mirrored.length) };
    }
  }

  /** The commit a ledger revision names; `UNKNOWN_COMMIT` is refused before the approval is looked at. */
  async resolve(revision: string): Promise<string> {
    const ledger = await this.ledger();
    try {
      return await ledger.resolve(revision);
    } catch (err) {
      throw refusalOf(err);
    }
  }

  /**
   * Puts `path` back to its version at `revision` through the ledger's own restore (which commits what the
   * file drifted to first) and appends the FILE_MUTATION for the restore commit. A `Refusal` means the file
   * is as it was; a vault that fails after the restore is reported in `failure`.
   */
  async restore(
    path: string,
    revision: string,
    meta: ChangeMeta,
  ): Promise<{ restored: Restored; mirrored: MirroredFile[]; failure: WireError | null }> {
    const ledger = await this.ledger();
    let restored: Restored;
    try {
      restored = await ledger.restore(path, revision, meta);
    } catch (err) {
      throw err instanceof LedgerError && (err.code === 'RESTORE_FAILED' || err.code === 'WRITE_FAILED')
        ? new Refusal('EXECUTION_FAILED', err.message)
        : refusalOf(err);
    }
    if (!restored.commit || !restored.change) return { restored, mirrored: [], failure: null };
    try {
      return {
        restored,
        mirrored: [this.mutated(restored.path, restored.commit, restored.change, meta)],
        failure: null,
      };
    } catch (err) {
      return { restored, mirrored: [], failure: recordingFailed(err, 0) };
    }
  }

  /** One file's ledger commit as a FILE_MUTATION event. */
  private mutated(path: string, commit: string, change: Change, meta: ChangeMeta): MirroredFile {
    const file = { path, commit, before: change.before, after: change.after };
    this.deps.vault.append({
      type: 'FILE_MUTATION',
      sessionId: this.deps.sessionId,
      payload: { ...meta, ...file, mode: change.mode },
    });
    return file;
  }

  /** Opens the ledger on first use; one that cannot be opened refuses each change until it is repaired. */
  private ledger(): Promise<Ledger> {
    this.opened ??= openLedger(this.deps.stateDir).catch((err: unknown) => {
      this.opened = null;
      throw refusalOf(err);
    });
    return this.opened;
  }

  /**
   * The files a change set covers now: its paths (but FIFOs, sockets and devices) and every regular file
   * under its trees, without following links. Before a run more than MAX_MIRRORED_FILES is refused; after
   * it, the first ones are kept and the rest reported.
   */
  private files(ledger: Ledger, set: ChangeSet, strict: boolean): string[] {
    const found = new Set(set.paths.filter((p) => !holdsNoBytes(p)));
    const walk = (dir: string): void => {
      let entries: Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        throw new Refusal('PATH_REFUSED', `cannot read ${dir} to mirror what is in it: ${code}.`);
      }
      for (const entry of entries) {
        if (found.size > MAX_MIRRORED_FILES) return;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.isFile()) found.add(strict ? ledger.canonical(path) : path);
      }
    };
    for (const tree of set.trees) {
      if (lstatOrNull(tree)?.isFile()) found.add(tree);
      else walk(tree);
    }
    if (found.size <= MAX_MIRRORED_FILES) return [...found];
    if (strict)
      throw new Refusal(
        'PATH_REFUSED',
        `the command would change more than ${MAX_MIRRORED_FILES} files under ${set.trees.join(', ')}; the ledger mirrors at most ${MAX_MIRRORED_FILES} per change, so narrow it or run it on the host.`,
      );
    this.deps.log.warn(
      { trees: set.trees, limit: MAX_MIRRORED_FILES },
      `the change left more than ${MAX_MIRRORED_FILES} files under its trees; only the first ${MAX_MIRRORED_FILES} are mirrored`,
    );
    return [...found].slice(0, MAX_MIRRORED_FILES);
  }
}
