// Path-level edits of the ledger tree. A commit rewrites only the trees along the changed paths: each
// level is read (usually from the store's cache), one entry replaced, and written back, so its cost
// follows the depth and width of those directories, never the number of files tracked.
import { TREE_MODE, type Entry, type ObjectStore } from './objects.ts';

export interface BlobRef {
  oid: string;
  mode: string;
}

/** A file's new state (`null`: absent), or a directory with the changes below it. */
type Node = BlobRef | null | Dir;
interface Dir {
  children: Map<string, Node>;
  /** The directory's own path was also listed and read as absent (a file once tracked there goes). */
  selfAbsent: boolean;
}

const isDir = (node: Node | undefined): node is Dir => node != null && 'children' in node;
const newDir = (selfAbsent: boolean): Dir => ({ children: new Map(), selfAbsent });

/**
 * Collects per-path states into one change tree. The states were read from one file system, so they
 * agree up to races: a file's presence wins over an absence at the same place, and nothing is recorded
 * below a file (a file cannot hold files).
 */
export function changeTree(states: Iterable<[components: string[], state: BlobRef | null]>): Dir {
  const root = newDir(false);
  paths: for (const [components, state] of states) {
    let dir = root;
    for (const name of components.slice(0, -1)) {
      const child = dir.children.get(name);
      if (child && !isDir(child)) continue paths;
      const next = isDir(child) ? child : newDir(child === null);
      dir.children.set(name, next);
      dir = next;
    }
    const leaf = components.at(-1)!;
    const existing = dir.children.get(leaf);
    if (state || existing === undefined) dir.children.set(leaf, state);
    else if (isDir(existing)) existing.selfAbsent = true;
  }
  return root;
}

/** Applies a change tree to `tree` and returns the new tree's oid (null for a directory left empty). */
export async function applyChanges(
  store: ObjectStore,
  tree: string | null,
  changes: Dir,
): Promise<string | null> {
  const entries = new Map<string, Entry>();
  if (tree) for (const e of await store.readTree(tree)) entries.set(e.path, e);
  let changed = false;
  const set = (name: string, entry: Entry | null) => {
    changed = true;
    if (entry) entries.set(name, entry);
    else entries.delete(name);
  };
  for (const [name, node] of changes.children) {
    const current = entries.get(name);
    if (isDir(node)) {
      const sub = current?.type === 'tree' ? current.oid : null;
      const next = await applyChanges(store, sub, node);
      if (next && next !== sub) set(name, { mode: TREE_MODE, path: name, oid: next, type: 'tree' });
      else if (!next && sub) set(name, null);
      else if (!next && current && node.selfAbsent) set(name, null);
    } else if (node) {
      if (current?.oid !== node.oid || current.mode !== node.mode)
        set(name, { mode: node.mode, path: name, oid: node.oid, type: 'blob' });
    } else if (current && current.type !== 'tree') {
      // A directory tracked here stays: the files inside it are only dropped when they are named.
      set(name, null);
    }
  }
  if (!changed) return tree;
  return entries.size ? store.writeTree([...entries.values()]) : null;
}

/** The blob at `components` under `tree`, or null. */
export async function lookup(
  store: ObjectStore,
  tree: string | null,
  components: readonly string[],
): Promise<BlobRef | null> {
  let oid = tree;
  for (let i = 0; oid && i < components.length; i++) {
    const entry = (await store.readTree(oid)).find((e) => e.path === components[i]);
    if (!entry) return null;
    if (i === components.length - 1)
      return entry.type === 'blob' ? { oid: entry.oid, mode: entry.mode } : null;
    if (entry.type !== 'tree') return null;
    oid = entry.oid;
  }
  return null;
}

/** The absolute paths of the files that differ between two trees, descending only where oids differ. */
export async function changedPaths(
  store: ObjectStore,
  before: string | null,
  after: string | null,
  prefix = '',
): Promise<string[]> {
  if (before === after) return [];
  const a = new Map((before ? await store.readTree(before) : []).map((e) => [e.path, e]));
  const b = new Map((after ? await store.readTree(after) : []).map((e) => [e.path, e]));
  const paths: string[] = [];
  for (const name of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(name);
    const y = b.get(name);
    if (x?.oid === y?.oid && x?.mode === y?.mode) continue;
    const path = `${prefix}/${name}`;
    const subtree = (e: Entry | undefined) => (e?.type === 'tree' ? e.oid : null);
    if (x?.type === 'tree' || y?.type === 'tree')
      paths.push(...(await changedPaths(store, subtree(x), subtree(y), path)));
    if ((x && x.type !== 'tree') || (y && y.type !== 'tree')) paths.push(path);
  }
  return paths.sort();
}
