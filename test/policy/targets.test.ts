import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeTargets } from '../../operator/src/policy/index.ts';
import { tempDir } from '../helpers.ts';

interface Case {
  family: string;
  command: string;
  known?: boolean;
  paths?: string[];
  trees?: string[];
  reason?: string;
  cwd?: string;
  /** false: not run for real (writes outside the fixture, needs a tty or a repository…). */
  run?: boolean;
}

const corpus: Case[] = readFileSync(new URL('./targets.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line) as Case);

const sh = (script: string, cwd: string) => {
  const r = spawnSync('/bin/sh', ['-c', script], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fixture setup failed: ${r.stderr}`);
};

/** Files, directories and links every corpus case may name; `$T` in the corpus is its root. */
const FIXTURE = [
  'echo alpha > a; echo beta > b; printf "a\\nc\\n" > f; echo g > g; printf "b\\na\\na\\n" > in',
  'echo ref > ref; echo file > file; echo x > x; echo y > y; echo a > list',
  'mkdir -p dir sub/deep src; echo inner > dir/inner; echo dx > dir/x; echo sx > sub/x; echo s1 > src/s1',
  'ln -s dir linkdir; ln -s file linkfile; ln -s missing dangling; ln -s sub/deep ld; tar -cf archive.tar src',
].join('; ');

const root = tempDir('dropops-targets-');
afterAll(() => root.remove());
let fixtures = 0;
function fixture(): string {
  const dir = join(root.path, `t${fixtures++}`);
  sh(`mkdir -p "${dir}" && cd "${dir}" && ${FIXTURE}`, root.path);
  return realpathSync(dir);
}

const fill = (text: string, t: string) => text.replaceAll('$T', t);
const sorted = (list: string[] = []) => [...list].sort();

/** Everything under `dir` that a command could change: type, mode, owner, size, time, content, link. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (path: string) => {
    const s = lstatSync(path);
    let what = `${s.mode}:${s.uid}:${s.gid}`;
    // A directory's own times change whenever an entry is added; its entries are compared instead.
    if (s.isFile())
      what += `:${s.size}:${s.mtimeMs}:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
    else if (s.isSymbolicLink()) what += `:${readlinkSync(path)}`;
    out.set(path, what);
    if (s.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dir);
  return out;
}

describe('write-target corpus', () => {
  it('is large and covers known and unknown cases across families', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(200);
    expect(corpus.filter((c) => c.known !== false).length).toBeGreaterThanOrEqual(100);
    expect(corpus.filter((c) => c.known === false).length).toBeGreaterThanOrEqual(50);
    expect(new Set(corpus.map((c) => c.family)).size).toBeGreaterThanOrEqual(20);
  });

  const t = fixture();
  it.each(corpus.map((c) => [c.family, c.command, c] as const))('%s: %j', (_f, _c, c) => {
    const result = writeTargets(fill(c.command, t), { cwd: fill(c.cwd ?? '$T', t) });
    if (c.known === false) {
      expect(result.known, JSON.stringify(result)).toBe(false);
      expect(result.reason).toContain(c.reason);
      for (const p of c.paths ?? []) expect(result.paths).toContain(fill(p, t));
      return;
    }
    expect(result.reason).toBeUndefined();
    expect(result.known).toBe(true);
    expect(sorted(result.paths)).toEqual(sorted(c.paths?.map((p) => fill(p, t))));
    expect(sorted(result.trees)).toEqual(sorted(c.trees?.map((p) => fill(p, t))));
  });
});

describe('the targets of known cases cover what really changes', () => {
  const runnable = corpus.filter((c) => c.known !== false && c.run !== false);

  it('runs most known cases', () => {
    expect(runnable.length).toBeGreaterThanOrEqual(150);
  });

  // Each case runs under /bin/sh in a fresh fixture; every path it adds, removes or alters must be a
  // reported target, lie inside a reported tree, or be a directory created on the way to a target.
  it.each(runnable.map((c) => [c.family, c.command, c] as const))('%s: %j', (_f, _c, c) => {
    const t = fixture();
    const command = fill(c.command, t);
    const cwd = fill(c.cwd ?? '$T', t);
    const { paths, trees } = writeTargets(command, { cwd });
    const before = snapshot(t);
    spawnSync('/bin/sh', ['-c', command], { cwd, stdio: ['ignore', 'ignore', 'ignore'], timeout: 10_000 });
    const after = snapshot(t);
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter(
      (p) => before.get(p) !== after.get(p),
    );
    const covered = (p: string) =>
      paths.includes(p) ||
      trees.some((tree) => p.startsWith(`${tree}/`)) ||
      (!before.has(p) && lstatSync(p).isDirectory() && paths.some((q) => q.startsWith(`${p}/`)));
    expect(changed.filter((p) => !covered(p))).toEqual([]);
  });
});

describe('writeTargets', () => {
  it('returns unknown, never throws, on input it cannot read', () => {
    expect(writeTargets(undefined as unknown as string, { cwd: '/' }).known).toBe(false);
    expect(writeTargets('echo ' + '$('.repeat(300), { cwd: '/' }).known).toBe(false);
  });

  it('expands ~ only when told the home directory, and never ~user', () => {
    const home = { cwd: '/srv', home: '/home/u' };
    expect(writeTargets('rm ~/x ~', home)).toEqual({
      known: true,
      paths: ['/home/u/x', '/home/u'],
      trees: [],
    });
    expect(writeTargets('dd if=a of=~/img', home).paths).toEqual(['/home/u/img']);
    expect(writeTargets('rm "~/x"', home).paths).toEqual(['/srv/~/x']);
    expect(writeTargets('rm ~root/x', home).reason).toContain('~root/x');
    expect(writeTargets('rm ~/x', { cwd: '/srv' }).known).toBe(false);
  });

  it('resolves a relative cwd and keeps no `.` or `..` in any path', () => {
    const t = fixture();
    const r = writeTargets('rm ./a/../b/./c ../x', { cwd: `${t}/sub/../dir/.` });
    expect(sorted(r.paths)).toEqual(sorted([`${t}/dir/b/c`, `${t}/x`]));
  });
});
