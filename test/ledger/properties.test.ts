import fc from 'fast-check';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLedger } from '../../operator/src/ledger/index.ts';
import { blobOid, fixture, git, gitBytes, lsTree, who } from './helpers.ts';

/** lstat, or undefined when nothing is there (also when a parent is a file). */
function statOf(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** Every regular file under `dir`, as absolute path → mode and blob oid, the way git would see it. */
function realFiles(dir: string, into = new Map<string, { mode: string; oid: string }>()) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (lstatSync(path).isDirectory()) realFiles(path, into);
    else
      into.set(path, {
        mode: statSync(path).mode & 0o100 ? '100755' : '100644',
        oid: blobOid(readFileSync(path)),
      });
  }
  return into;
}

const segment = fc.constantFrom('a', 'b', 'c', 'é');
// Any depth from one to three, so one step's file is another step's directory and back.
const relPath = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
const op = fc.oneof(
  fc.record({
    kind: fc.constant('write' as const),
    path: relPath,
    content: fc.uint8Array({ maxLength: 64 }),
    executable: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('mkdir' as const), path: relPath }),
  fc.record({ kind: fc.constant('delete' as const), path: relPath }),
);
// A step is a few operations followed by one record naming every path they touched (directories too), plus
// noise paths.
const step = fc.record({
  ops: fc.array(op, { minLength: 1, maxLength: 4 }),
  extra: fc.array(relPath, { maxLength: 2 }),
});

describe('ledger tree', () => {
  it('after each record, git ls-tree -r matches the real files byte for byte and mode for mode', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), async (steps) => {
        const f = fixture();
        const ledger = await openLedger(f.state);
        const commits = [await ledger.head()];
        for (const [i, { ops, extra }] of steps.entries()) {
          const touched = new Set(extra.map(f.at));
          for (const o of ops) {
            const path = f.at(o.path);
            // Whatever is in the way is removed first and named in the record: a file where a directory
            // must go, and whatever sits at the path itself.
            for (let p = path; p !== f.host; p = dirname(p)) {
              const there = statOf(p);
              if (!there || (p !== path && there.isDirectory())) continue;
              for (const gone of there.isDirectory() ? realFiles(p).keys() : [p]) touched.add(gone);
              rmSync(p, { recursive: true });
            }
            touched.add(path);
            if (o.kind !== 'delete')
              mkdirSync(o.kind === 'mkdir' ? path : dirname(path), { recursive: true });
            if (o.kind === 'write') {
              writeFileSync(path, o.content);
              chmodSync(path, o.executable ? 0o755 : 0o644);
            }
          }
          const before = await ledger.head();
          // A directory named in a record holds no file: a file the ledger held there is dropped.
          const result = await ledger.record({ paths: [...touched], ...who(`exec-${i}`) });
          const tree = lsTree(f.ledgerDir);
          expect(tree).toEqual(realFiles(f.host));
          expect(result.commit === null).toBe((await ledger.head()) === before);
          if (result.commit) commits.unshift(result.commit);
        }
        git(f.ledgerDir, 'fsck', '--strict');
        // Stock git walks the same history and reads every file the ledger holds.
        expect(git(f.ledgerDir, 'log', '--format=%H').trim().split('\n')).toEqual(commits);
        for (const [path, { oid }] of lsTree(f.ledgerDir))
          expect(blobOid(gitBytes(f.ledgerDir, 'show', `HEAD:${path.slice(1)}`))).toBe(oid);
      }),
      { numRuns: 100 },
    );
  }, 180_000);
});
