import git from 'isomorphic-git';
import fs, {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { LedgerError } from './errors.ts';
import { notRegular, readState, removeFile, writeAtomically } from './files.ts';
import { WriterLock } from './lock.ts';
import {
  checkMetaValue,
  checkNote,
  composeMessage,
  parseTrailers,
  type LedgerAction,
  type Trailers,
} from './message.ts';
import {
  EXEC_MODE,
  fileMode,
  objectId,
  ObjectStore,
  type CommitInfo,
  type FileMode,
  type Signature,
} from './objects.ts';
import { lstatOrNull, PathRules, treeComponents } from './paths.ts';
import { applyChanges, changedPaths, changeTree, lookup, type BlobRef } from './tree.ts';

/** The ledger repository inside the operator's state directory (the `.dropops` dir). */
export const ledgerPath = (stateDir: string): string => join(stateDir, 'data', 'ledger');

export interface ChangeMeta {
  executionId: string;
  approver: string;
  note?: string;
}
export interface RecordInput extends ChangeMeta {
  paths: string[];
}
export interface RestoreMeta {
  /** Who restores: the approver through the appliance, or the local user. */
  approver: string;
  executionId?: string;
  note?: string;
}
export interface Change {
  /** The canonical absolute path. */
  path: string;
  /** Blob oids; null where the file was (or now is) absent. */
  before: string | null;
  after: string | null;
  /** The tree mode recorded now, null when absent. */
  mode: FileMode | null;
}
export interface Committed {
  /** The new commit, or null when every file already matched the ledger. */
  commit: string | null;
  changed: Change[];
}
export interface LogEntry {
  commit: string;
  at: string;
  action: LedgerAction | null;
  executionId: string | null;
  approver: string | null;
  restoredFrom: string | null;
  message: string;
  paths: string[];
}
export interface Restored {
  path: string;
  /** The commit whose version was restored. */
  from: string;
  outcome: 'written' | 'removed' | 'unchanged';
  /** The commit recording the restore (null when unchanged). */
  commit: string | null;
  /** The commit that first saved what the file held when it differed from the ledger (else null). */
  snapshot: string | null;
  /** What the restore commit changed (null when unchanged). */
  change: Change | null;
}

export interface Ledger {
  readonly dir: string;
  head(): Promise<string>;
  /**
   * Where the ledger records `path` (absolute, symlinks resolved), or a `LedgerError` saying why it cannot
   * hold it (`PATH_OUTSIDE_TREE`, `NOT_A_REGULAR_FILE`): for refusing a change before it is made.
   */
  canonical(path: string): string;
  /** Before a change: commits any listed file whose content differs from the ledger, so it can be restored. */
  snapshot(paths: readonly string[], meta: ChangeMeta): Promise<Committed>;
  /**
   * After a change: commits the listed files as they are now. Where no file is (nothing, or a directory now)
   * the file the ledger held there is removed; files inside a directory count only when listed themselves.
   */
  record(input: RecordInput): Promise<Committed>;
  /** Commits newest first; with a file, only those that changed it. */
  log(file?: string): Promise<LogEntry[]>;
  /**
   * Writes the file as it was at `revision` (an id or prefix from `log`, `HEAD`, with `^` / `~N`) back to
   * its path, or removes it when the file did not exist then, and commits that.
   */
  restore(file: string, revision: string, meta: RestoreMeta): Promise<Restored>;
  /** The commit a revision names, or `UNKNOWN_COMMIT`: for refusing a restore before it is approved. */
  resolve(revision: string): Promise<string>;
}

export interface OpenLedgerOptions {
  /** How long a commit waits for another process's commit to finish (default 5000 ms). */
  lockWaitMs?: number;
  /** Create the ledger when it does not exist (default true); false refuses with `NO_LEDGER`. */
  create?: boolean;
}

const MARKER = 'dropops.ledger';
const HEAD_TEXT = 'ref: refs/heads/main';

function signature(): Signature {
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, '-') || 'localhost';
  return {
    name: 'DropOps operator',
    email: `operator@${host}`,
    timestamp: Math.floor(Date.now() / 1000),
    offsetMinutes: -new Date().getTimezoneOffset(),
  };
}

const sameBlob = (a: BlobRef | null, b: BlobRef | null) => a?.oid === b?.oid && a?.mode === b?.mode;
const describe = (paths: readonly string[]) => (paths.length === 1 ? paths[0]! : `${paths.length} files`);

/** Opens the ledger under `stateDir`, creating it on first use; never re-creates one that is damaged. */
export async function openLedger(stateDir: string, options: OpenLedgerOptions = {}): Promise<Ledger> {
  const dir = ledgerPath(stateDir);
  if (options.create === false && !existsSync(dir))
    throw new LedgerError(
      'NO_LEDGER',
      `No ledger exists at ${dir}; the operator creates it on its first change.`,
    );
  mkdirSync(dirname(dir), { recursive: true, mode: 0o700 });
  const lock = new WriterLock(`${dir}.lock`, options.lockWaitMs ?? 5000);
  await lock.run(async () => {
    if (!existsSync(dir) || (statSync(dir).isDirectory() && readdirSync(dir).length === 0)) await create(dir);
  });
  const store = new ObjectStore(dir);
  await check(dir, store);
  return new GitLedger(dir, store, new PathRules(stateDir), lock);
}

/** Builds the repository beside its final place and renames it in, so a crash leaves no half ledger. */
async function create(dir: string): Promise<void> {
  const temp = mkdtempSync(join(dirname(dir), `.${basename(dir)}-new-`));
  try {
    await git.init({ fs, dir: temp, bare: true, defaultBranch: 'main' });
    for (const [path, value] of [
      [MARKER, true],
      ['core.filemode', true],
      ['core.ignorecase', false],
    ] as const)
      await git.setConfig({ fs, gitdir: temp, path, value });
    const store = new ObjectStore(temp);
    const tree = store.writeTree([]);
    const message = composeMessage('ledger created', { action: 'created' });
    store.setHead(store.writeCommit({ tree, parents: [], signature: signature(), message }));
    renameSync(temp, dir);
  } catch (err) {
    rmSync(temp, { recursive: true, force: true });
    throw err;
  }
}

async function check(dir: string, store: ObjectStore): Promise<void> {
  const notOurs = (why: string) =>
    new LedgerError(
      'LEDGER_CORRUPT',
      `${dir} exists but is not a DropOps ledger (${why}); it was left untouched. Move it aside or use another --dir.`,
    );
  if (!statSync(dir).isDirectory()) throw notOurs('not a directory');
  let marked: unknown;
  try {
    marked = await git.getConfig({ fs, gitdir: dir, path: MARKER });
  } catch {
    marked = undefined;
  }
  if (String(marked) !== 'true') throw notOurs(`no ${MARKER} = true in its git config`);
  let head = '';
  try {
    head = readFileSync(join(dir, 'HEAD'), 'utf8').trim();
  } catch {
    // reported below
  }
  if (head !== HEAD_TEXT) throw notOurs(`HEAD is not "${HEAD_TEXT}"`);
  try {
    await store.readCommit(await store.head());
  } catch (err) {
    throw new LedgerError(
      'LEDGER_CORRUPT',
      `The ledger at ${dir} is damaged: its head commit cannot be read (${(err as Error).message}). It was left untouched; inspect it with \`git -C ${dir} fsck\`.`,
    );
  }
}

class GitLedger implements Ledger {
  // The last head this process saw; another process moving the branch is noticed on the next commit.
  private known: { commit: string; tree: string } | null = null;

  constructor(
    readonly dir: string,
    private readonly store: ObjectStore,
    private readonly rules: PathRules,
    private readonly lock: WriterLock,
  ) {}

  head(): Promise<string> {
    return this.store.head();
  }

  canonical(path: string): string {
    return this.rules.canonical(path);
  }

  async snapshot(paths: readonly string[], meta: ChangeMeta): Promise<Committed> {
    const { trailers, note, canonical } = this.prepare(paths, meta);
    return this.lock.run(() =>
      this.commit(
        canonical,
        (n) => `snapshot before execution ${trailers.executionId}: ${describe(n)}`,
        { ...trailers, action: 'snapshot' },
        note,
      ),
    );
  }

  async record(input: RecordInput): Promise<Committed> {
    const { trailers, note, canonical } = this.prepare(input.paths, input);
    return this.lock.run(() =>
      this.commit(
        canonical,
        (n) => `execution ${trailers.executionId}: ${describe(n)}`,
        { ...trailers, action: 'record' },
        note,
      ),
    );
  }

  async log(file?: string): Promise<LogEntry[]> {
    const entries: LogEntry[] = [];
    for await (const entry of this.history(file === undefined ? null : this.rules.canonical(file)))
      entries.push(entry);
    return entries;
  }

  async restore(file: string, revision: string, meta: RestoreMeta): Promise<Restored> {
    const approver = checkMetaValue('approver', meta.approver);
    const executionId =
      meta.executionId === undefined ? undefined : checkMetaValue('executionId', meta.executionId);
    const note = checkNote(meta.note);
    const path = this.rules.canonical(file);
    const there = lstatOrNull(path);
    // A directory reads as "no file" when recording; restoring a file over one would replace the directory.
    if (there?.isDirectory()) throw notRegular(path, there);
    const components = treeComponents(path);
    return this.lock.run(async () => {
      const from = await this.resolve(revision);
      const version = await lookup(this.store, (await this.store.readCommit(from)).tree, components);
      // Removing a file is only a restore when the ledger once held it; anything else would be a deletion.
      if (!version && (await this.history(path).next()).done)
        throw new LedgerError(
          'NOT_TRACKED',
          `The ledger has never held ${path}, so there is no version of it to restore.`,
        );
      const trailers = { approver, executionId };
      // Whatever the file holds now that the ledger lacks is saved first, so the restore can be undone.
      const snapshot = await this.commit(
        [path],
        () => `snapshot before restore of ${path}`,
        { ...trailers, action: 'snapshot' },
        undefined,
      );
      const current = await lookup(this.store, this.known!.tree, components);
      if (sameBlob(current, version))
        return { path, from, outcome: 'unchanged', commit: null, snapshot: snapshot.commit, change: null };
      if (version)
        writeAtomically(path, await this.store.readBlob(version.oid), {
          executable: version.mode === EXEC_MODE,
        });
      else removeFile(path);
      const done = await this.commit(
        [path],
        () => `restore ${path} to ${from.slice(0, 12)}`,
        { ...trailers, action: 'restore', restoredFrom: from },
        note,
      );
      return {
        path,
        from,
        outcome: version ? 'written' : 'removed',
        commit: done.commit,
        snapshot: snapshot.commit,
        change: done.changed[0] ?? null,
      };
    });
  }

  /** Validates everything a call was given before anything is read or written. */
  private prepare(paths: readonly string[], meta: ChangeMeta) {
    const trailers = {
      executionId: checkMetaValue('executionId', meta.executionId),
      approver: checkMetaValue('approver', meta.approver),
    };
    if (!Array.isArray(paths)) throw new LedgerError('BAD_META', 'paths must be a list of absolute paths.');
    const canonical = [...new Set(paths.map((p) => this.rules.canonical(p)))];
    return { trailers, note: checkNote(meta.note), canonical };
  }

  private async currentHead(): Promise<{ commit: string; tree: string }> {
    const commit = await this.store.head();
    if (this.known?.commit !== commit)
      this.known = { commit, tree: (await this.store.readCommit(commit)).tree };
    return this.known;
  }

  /** Commits the current state of `paths` (canonical) where it differs from the head; the caller holds the lock. */
  private async commit(
    paths: readonly string[],
    subject: (changed: string[]) => string,
    trailers: Trailers,
    note: string | undefined,
  ): Promise<Committed> {
    const head = await this.currentHead();
    // Every file is read before anything is written: a refusal leaves the ledger as it was.
    const states = paths.map((path) => ({ path, state: readState(path) }));
    const changed: (Change & { content?: Buffer })[] = [];
    const leaves: [string[], BlobRef | null][] = [];
    for (const { path, state } of states) {
      const components = treeComponents(path);
      const after = state && {
        oid: objectId('blob', state.content),
        mode: fileMode(state.executable),
      };
      leaves.push([components, after]);
      const before = await lookup(this.store, head.tree, components);
      if (sameBlob(before, after)) continue;
      changed.push({
        path,
        before: before?.oid ?? null,
        after: after?.oid ?? null,
        mode: after?.mode ?? null,
        content: state?.content,
      });
    }
    if (changed.length === 0) return { commit: null, changed: [] };
    for (const c of changed) if (c.content) this.store.write('blob', c.content);
    const tree = (await applyChanges(this.store, head.tree, changeTree(leaves))) ?? this.store.writeTree([]);
    const message = composeMessage(subject(changed.map((c) => c.path)), trailers, note);
    const commit = this.store.writeCommit({ tree, parents: [head.commit], signature: signature(), message });
    this.store.setHead(commit);
    this.known = { commit, tree };
    return { commit, changed: changed.map(({ content: _, ...c }) => c) };
  }

  /** First-parent history from the head, newest first; with a path, only commits that changed it. */
  private async *history(path: string | null): AsyncGenerator<LogEntry> {
    const components = path === null ? null : treeComponents(path);
    let current: CommitInfo | null = await this.store.readCommit(await this.store.head());
    while (current) {
      const parent: CommitInfo | null = current.parents[0]
        ? await this.store.readCommit(current.parents[0])
        : null;
      const parentTree = parent?.tree ?? null;
      const touched =
        !components ||
        !sameBlob(
          await lookup(this.store, parentTree, components),
          await lookup(this.store, current.tree, components),
        );
      if (touched) {
        const t = parseTrailers(current.message);
        yield {
          commit: current.oid,
          at: new Date(current.committedAt * 1000).toISOString(),
          action: t.action ?? null,
          executionId: t.executionId ?? null,
          approver: t.approver ?? null,
          restoredFrom: t.restoredFrom ?? null,
          message: current.message,
          paths: await changedPaths(this.store, parentTree, current.tree),
        };
      }
      current = parent;
    }
  }

  /** A commit id or prefix, or HEAD, optionally followed by `^` and `~N` steps along first parents. */
  async resolve(revision: string): Promise<string> {
    const unknown = (why: string) =>
      new LedgerError(
        'UNKNOWN_COMMIT',
        `${JSON.stringify(revision)} ${why}; give a commit id from \`dropops-operator ledger log\`, optionally followed by ^ or ~N.`,
      );
    const match = /^(HEAD|[0-9a-fA-F]{4,40})((?:\^|~\d*)*)$/.exec(revision.trim());
    if (!match) throw unknown('is not a commit id');
    let oid: string;
    try {
      oid = match[1] === 'HEAD' ? await this.store.head() : await this.store.expand(match[1]!.toLowerCase());
      await this.store.readCommit(oid);
    } catch {
      throw unknown('names no commit in the ledger');
    }
    for (const step of match[2]!.match(/\^|~\d*/g) ?? []) {
      const count = step === '^' || step === '~' ? 1 : Number(step.slice(1));
      for (let i = 0; i < count; i++) {
        const parent = (await this.store.readCommit(oid)).parents[0];
        if (!parent) throw unknown('goes back past the first ledger commit');
        oid = parent;
      }
    }
    return oid;
  }
}
