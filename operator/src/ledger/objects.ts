// The ledger's object store: isomorphic-git reads every object (loose or packed, should someone run
// `git gc` in the ledger), and this module writes the few a commit needs. Writes are done here because
// isomorphic-git deflates through the web CompressionStream whenever it exists (about 0.6 ms per object
// here, several per commit, with no option to change it) and writes a loose object in place and never
// again once the file exists, so a kill in mid-write would leave a torn object for good. Ours are zlib
// deflated and written whole (temporary file, then rename), the way git itself writes them.
import git, { type TreeEntry } from 'isomorphic-git';
import { createHash, randomBytes } from 'node:crypto';
import fs, { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { deflateSync } from 'node:zlib';

export type Entry = TreeEntry;
export const BRANCH = 'refs/heads/main';
export const FILE_MODE = '100644';
export const EXEC_MODE = '100755';
export type FileMode = typeof FILE_MODE | typeof EXEC_MODE;
/** Git records one executable bit, the owner's, as the two blob modes. */
export const fileMode = (executable: boolean): FileMode => (executable ? EXEC_MODE : FILE_MODE);
export const TREE_MODE = '040000';

export interface Signature {
  name: string;
  email: string;
  /** Seconds since the epoch. */
  timestamp: number;
  /** Minutes east of UTC. */
  offsetMinutes: number;
}

export interface CommitInfo {
  oid: string;
  tree: string;
  parents: string[];
  committedAt: number;
  message: string;
}

/** Git's object id: sha1 over `<type> <size>\0<content>`. */
export function objectId(type: 'blob' | 'tree' | 'commit', content: Buffer): string {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
}

// Git orders tree entries by name bytes, a subtree's name compared as if it ended in "/".
const sortKey = (e: Entry) => Buffer.from(e.type === 'tree' ? `${e.path}/` : e.path);

function encodeTree(entries: readonly Entry[]): Buffer {
  const keyed = entries.map((e) => [sortKey(e), e] as const).sort(([a], [b]) => Buffer.compare(a, b));
  return Buffer.concat(
    keyed.flatMap(([, e]) => [
      Buffer.from(`${e.mode.replace(/^0/, '')} ${e.path}\0`),
      Buffer.from(e.oid, 'hex'),
    ]),
  );
}

function formatSignature(s: Signature): string {
  const sign = s.offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(s.offsetMinutes);
  const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
  return `${s.name} <${s.email}> ${s.timestamp} ${zone}`;
}

export class ObjectStore {
  // Trees are immutable by oid, so entries read or written once serve every later commit: a commit on
  // a path already seen reads nothing back from disk.
  private readonly trees = new Map<string, readonly Entry[]>();
  private readonly gitCache = {};

  constructor(
    readonly gitdir: string,
    private readonly maxCachedTrees = 4096,
  ) {}

  /** Writes one loose object whole (temp file + rename); an object already present is complete. */
  write(type: 'blob' | 'tree' | 'commit', content: Buffer): string {
    const oid = objectId(type, content);
    const path = join(this.gitdir, 'objects', oid.slice(0, 2), oid.slice(2));
    if (existsSync(path)) return oid;
    mkdirSync(dirname(path), { recursive: true });
    const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      writeFileSync(temp, deflateSync(Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content])), {
        flag: 'wx',
        mode: 0o444,
      });
      renameSync(temp, path);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
    return oid;
  }

  writeTree(entries: readonly Entry[]): string {
    const oid = this.write('tree', encodeTree(entries));
    this.remember(oid, entries);
    return oid;
  }

  writeCommit(commit: { tree: string; parents: string[]; signature: Signature; message: string }): string {
    const who = formatSignature(commit.signature);
    const text = [
      `tree ${commit.tree}`,
      ...commit.parents.map((p) => `parent ${p}`),
      `author ${who}`,
      `committer ${who}`,
      '',
      commit.message,
    ].join('\n');
    return this.write('commit', Buffer.from(text, 'utf8'));
  }

  async readTree(oid: string): Promise<readonly Entry[]> {
    const cached = this.trees.get(oid);
    if (cached) {
      this.remember(oid, cached);
      return cached;
    }
    const { tree } = await git.readTree({ fs, gitdir: this.gitdir, oid, cache: this.gitCache });
    this.remember(oid, tree);
    return tree;
  }

  async readCommit(oid: string): Promise<CommitInfo> {
    const { commit } = await git.readCommit({ fs, gitdir: this.gitdir, oid, cache: this.gitCache });
    return {
      oid,
      tree: commit.tree,
      parents: commit.parent,
      committedAt: commit.committer.timestamp,
      message: commit.message,
    };
  }

  async readBlob(oid: string): Promise<Buffer> {
    const { blob } = await git.readBlob({ fs, gitdir: this.gitdir, oid, cache: this.gitCache });
    return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  }

  /** Expands an abbreviated object id (at least 4 hex digits). */
  expand(prefix: string): Promise<string> {
    return git.expandOid({ fs, gitdir: this.gitdir, oid: prefix, cache: this.gitCache });
  }

  /** The branch head: the loose ref when there is one (the usual case, one small read), else packed-refs. */
  async head(): Promise<string> {
    try {
      const oid = readFileSync(join(this.gitdir, BRANCH), 'utf8').trim();
      if (/^[0-9a-f]{40}$/.test(oid)) return oid;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return git.resolveRef({ fs, gitdir: this.gitdir, ref: BRANCH });
  }

  /** Moves the branch to `oid` by renaming a complete ref file over the old one. */
  setHead(oid: string): void {
    const path = join(this.gitdir, BRANCH);
    const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
    writeFileSync(temp, `${oid}\n`, { flag: 'wx', mode: 0o644 });
    renameSync(temp, path);
  }

  private remember(oid: string, entries: readonly Entry[]): void {
    this.trees.delete(oid);
    this.trees.set(oid, entries);
    if (this.trees.size > this.maxCachedTrees) this.trees.delete(this.trees.keys().next().value!);
  }
}
