import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLedger, type Ledger } from '../../operator/src/ledger/index.ts';
import { blobOid, fixture, git, gitBytes, lsTree, who, type Fixture } from './helpers.ts';

const writerChild = join(import.meta.dirname, 'writer-child.ts');
const code = (c: string) => ({ code: c });

async function setup(): Promise<{ f: Fixture; ledger: Ledger }> {
  const f = fixture();
  return { f, ledger: await openLedger(f.state) };
}

describe('ledger record and log', () => {
  it('commits changed files under their absolute path, with the execution id and approver as trailers', async () => {
    const { f, ledger } = await setup();
    const conf = f.put('etc/nginx/nginx.conf', 'worker_processes 1;\n');
    const script = f.put('usr/local/bin/deploy', '#!/bin/sh\necho hi\n', 0o755);

    const first = await ledger.record({ paths: [conf, script], ...who('exec-1', 'alice'), note: 'initial' });
    expect(first.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(first.changed).toEqual([
      { path: conf, before: null, after: blobOid('worker_processes 1;\n'), mode: '100644' },
      { path: script, before: null, after: blobOid('#!/bin/sh\necho hi\n'), mode: '100755' },
    ]);

    const tree = lsTree(f.ledgerDir);
    expect(tree.get(conf)).toEqual({ mode: '100644', oid: blobOid('worker_processes 1;\n') });
    expect(tree.get(script)?.mode).toBe('100755');
    expect(git(f.ledgerDir, 'show', `HEAD:${conf.slice(1)}`)).toBe('worker_processes 1;\n');
    expect(git(f.ledgerDir, 'log', '-1', '--format=%(trailers:key=Execution-Id,valueonly)').trim()).toBe(
      'exec-1',
    );
    expect(git(f.ledgerDir, 'log', '-1', '--format=%(trailers:key=Approved-By,valueonly)').trim()).toBe(
      'alice',
    );
    expect(git(f.ledgerDir, 'log', '-1', '--format=%an <%ae>|%cn')).toMatch(
      /^DropOps operator <operator@.+>\|DropOps operator\n$/,
    );
    expect(git(f.ledgerDir, 'log', '-1', '--format=%B')).toContain('initial');

    writeFileSync(conf, 'worker_processes 4;\n');
    unlinkSync(script);
    const second = await ledger.record({ paths: [conf, script], ...who('exec-2', 'bob') });
    expect(second.changed).toEqual([
      {
        path: conf,
        before: blobOid('worker_processes 1;\n'),
        after: blobOid('worker_processes 4;\n'),
        mode: '100644',
      },
      { path: script, before: blobOid('#!/bin/sh\necho hi\n'), after: null, mode: null },
    ]);
    expect(lsTree(f.ledgerDir).has(script)).toBe(false);
    expect(git(f.ledgerDir, 'log', '--format=%H', `${second.commit}^..${second.commit}`).trim()).toBe(
      second.commit,
    );

    const all = await ledger.log();
    expect(all.map((e) => e.action)).toEqual(['record', 'record', 'created']);
    expect(all[0]).toMatchObject({
      commit: second.commit,
      executionId: 'exec-2',
      approver: 'bob',
      paths: [conf, script].sort(),
    });
    expect(all[1]).toMatchObject({ commit: first.commit, executionId: 'exec-1', approver: 'alice' });
    expect(Date.parse(all[0]!.at)).not.toBeNaN();
    const onlyScript = await ledger.log(script);
    expect(onlyScript.map((e) => e.commit)).toEqual([second.commit, first.commit]);
    expect(git(f.ledgerDir, 'rev-list', 'HEAD').trim().split('\n')).toEqual(all.map((e) => e.commit));
    git(f.ledgerDir, 'fsck', '--strict', '--no-dangling');
  });

  it('says nothing changed instead of making an empty commit', async () => {
    const { f, ledger } = await setup();
    const file = f.put('etc/hosts', '127.0.0.1 localhost\n');
    await ledger.record({ paths: [file], ...who() });
    const head = await ledger.head();
    expect(await ledger.record({ paths: [file, f.at('etc/never-existed')], ...who('exec-2') })).toEqual({
      commit: null,
      changed: [],
    });
    expect(await ledger.head()).toBe(head);
  });

  it('records a change of the executable bit alone', async () => {
    const { f, ledger } = await setup();
    const file = f.put('opt/run.sh', 'echo\n');
    await ledger.record({ paths: [file], ...who() });
    chmodSync(file, 0o755);
    const changed = await ledger.record({ paths: [file], ...who('exec-2') });
    expect(changed.changed).toEqual([
      { path: file, before: blobOid('echo\n'), after: blobOid('echo\n'), mode: '100755' },
    ]);
    expect(lsTree(f.ledgerDir).get(file)?.mode).toBe('100755');
  });

  it('stores large binary files byte for byte', async () => {
    const { f, ledger } = await setup();
    const bytes = Buffer.concat([
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      randomBytes(24 * 2 ** 20),
    ]);
    const file = f.put('var/lib/blob.bin', bytes);
    const { changed } = await ledger.record({ paths: [file], ...who() });
    expect(changed[0]!.after).toBe(blobOid(bytes));
    expect(gitBytes(f.ledgerDir, 'cat-file', 'blob', changed[0]!.after!).equals(bytes)).toBe(true);
    writeFileSync(file, 'replaced');
    await ledger.record({ paths: [file], ...who('exec-2') });
    await ledger.restore(file, 'HEAD^', { approver: 'alice' });
    expect(readFileSync(file).equals(bytes)).toBe(true);
    git(f.ledgerDir, 'fsck', '--strict');
  });

  it('replaces a tracked file by a directory of tracked files and back', async () => {
    const { f, ledger } = await setup();
    const path = f.put('srv/app', 'a file\n');
    await ledger.record({ paths: [path], ...who() });
    rmSync(path);
    const inner = f.put('srv/app/config.yml', 'a: 1\n');
    await ledger.record({ paths: [inner], ...who('exec-2') });
    expect([...lsTree(f.ledgerDir).keys()]).toEqual([inner]);
    rmSync(path, { recursive: true });
    f.put('srv/app', 'a file again\n');
    await ledger.record({ paths: [inner, path], ...who('exec-3') });
    expect([...lsTree(f.ledgerDir).keys()]).toEqual([path]);
    git(f.ledgerDir, 'fsck', '--strict');
  });

  it('drops a tracked file that became a directory when the directory is named, and the reverse', async () => {
    const { f, ledger } = await setup();
    const path = f.put('srv/app', 'a file\n');
    const kept = f.put('srv/other', 'stays\n');
    await ledger.record({ paths: [path, kept], ...who() });
    rmSync(path);
    mkdirSync(path);
    // An empty directory now: the file is gone, and nothing inside is there to record.
    const gone = await ledger.record({ paths: [path], ...who('exec-2') });
    expect(gone.changed).toEqual([expect.objectContaining({ path, after: null, mode: null })]);
    expect([...lsTree(f.ledgerDir).keys()]).toEqual([kept]);
    const inner = f.put('srv/app/deep/er/config.yml', 'a: 1\n');
    await ledger.record({ paths: [path, inner], ...who('exec-3') });
    expect([...lsTree(f.ledgerDir).keys()]).toEqual([inner, kept]);
    // The directory becomes a file again: naming the file alone replaces the whole tracked subtree.
    rmSync(path, { recursive: true });
    f.put('srv/app', 'a file again\n');
    await ledger.record({ paths: [path], ...who('exec-4') });
    expect([...lsTree(f.ledgerDir).keys()]).toEqual([path, kept]);
    expect(git(f.ledgerDir, 'show', `HEAD:${path.slice(1)}`)).toBe('a file again\n');
    expect(git(f.ledgerDir, 'show', `HEAD~1:${inner.slice(1)}`)).toBe('a: 1\n');
    git(f.ledgerDir, 'fsck', '--strict');
  });
});

describe('ledger snapshot and restore', () => {
  it('snapshots only what differs from the ledger, and restores the version before a change', async () => {
    const { f, ledger } = await setup();
    const conf = f.put('etc/app.conf', 'v1\n', 0o640);
    const fresh = f.at('etc/new.conf');
    const before = await ledger.snapshot([conf, fresh], who('exec-1'));
    expect(before.changed).toEqual([{ path: conf, before: null, after: blobOid('v1\n'), mode: '100644' }]);
    expect(git(f.ledgerDir, 'log', '-1', '--format=%s')).toBe(`snapshot before execution exec-1: ${conf}\n`);
    expect((await ledger.snapshot([conf, fresh], who('exec-1'))).commit).toBeNull();

    writeFileSync(conf, 'v2\n');
    writeFileSync(fresh, 'created by exec-1\n');
    const after = await ledger.record({ paths: [conf, fresh], ...who('exec-1') });

    const restored = await ledger.restore(conf, `${after.commit}^`, { approver: 'local:carol' });
    expect(restored).toMatchObject({ path: conf, from: before.commit, outcome: 'written', snapshot: null });
    expect(readFileSync(conf, 'utf8')).toBe('v1\n');
    expect(statSync(conf).mode & 0o7777).toBe(0o640);
    const log = await ledger.log(conf);
    expect(log[0]).toMatchObject({
      commit: restored.commit,
      action: 'restore',
      approver: 'local:carol',
      restoredFrom: before.commit,
      paths: [conf],
    });
    expect(git(f.ledgerDir, 'log', '-1', '--format=%(trailers:key=Restored-From,valueonly)').trim()).toBe(
      before.commit,
    );

    // A file the change created did not exist before it: restoring that version removes it.
    const removed = await ledger.restore(fresh, before.commit!, { approver: 'local:carol' });
    expect(removed.outcome).toBe('removed');
    expect(existsSync(fresh)).toBe(false);
    expect(lsTree(f.ledgerDir).has(fresh)).toBe(false);

    expect(await ledger.restore(conf, before.commit!.slice(0, 7), { approver: 'x' })).toMatchObject({
      outcome: 'unchanged',
      commit: null,
    });
    git(f.ledgerDir, 'fsck', '--strict');
  });

  it('saves what a file drifted to outside the operator before restoring over it', async () => {
    const { f, ledger } = await setup();
    const file = f.put('etc/motd', 'recorded\n');
    const { commit } = await ledger.record({ paths: [file], ...who() });
    writeFileSync(file, 'edited by hand\n');
    const restored = await ledger.restore(file, commit!, { approver: 'local:dave' });
    expect(restored.snapshot).toMatch(/^[0-9a-f]{40}$/);
    expect(readFileSync(file, 'utf8')).toBe('recorded\n');
    await ledger.restore(file, restored.snapshot!, { approver: 'local:dave' });
    expect(readFileSync(file, 'utf8')).toBe('edited by hand\n');
  });

  it('restores the executable bit with the version, keeping the other permission bits', async () => {
    const { f, ledger } = await setup();
    const file = f.put('opt/tool', 'v1\n', 0o700);
    const v1 = await ledger.record({ paths: [file], ...who() });
    writeFileSync(file, 'v2\n');
    chmodSync(file, 0o640);
    await ledger.record({ paths: [file], ...who('exec-2') });
    await ledger.restore(file, v1.commit!, { approver: 'alice' });
    expect(statSync(file).mode & 0o7777).toBe(0o750);
    expect(readFileSync(file, 'utf8')).toBe('v1\n');
  });

  it('rewrites a file whole: a reader holding the old file still sees the old bytes', async () => {
    const { f, ledger } = await setup();
    const file = f.put('etc/swap.conf', 'old\n');
    const { commit } = await ledger.record({ paths: [file], ...who() });
    writeFileSync(file, 'new\n');
    const inodeBefore = statSync(file).ino;
    await ledger.restore(file, commit!, { approver: 'alice' });
    expect(statSync(file).ino).not.toBe(inodeBefore);
    expect(readFileSync(file, 'utf8')).toBe('old\n');
  });

  it('refuses an unknown commit and a file the ledger never held, changing nothing', async () => {
    const { f, ledger } = await setup();
    const file = f.put('etc/a', 'a\n');
    const stranger = f.put('etc/b', 'not tracked\n');
    await ledger.record({ paths: [file], ...who() });
    const head = await ledger.head();
    for (const revision of ['deadbeef', 'not-a-commit', 'HEAD~5', ''])
      await expect(ledger.restore(file, revision, { approver: 'a' })).rejects.toMatchObject(
        code('UNKNOWN_COMMIT'),
      );
    const blob = blobOid('a\n');
    await expect(ledger.restore(file, blob, { approver: 'a' })).rejects.toMatchObject(code('UNKNOWN_COMMIT'));
    await expect(ledger.restore(stranger, 'HEAD', { approver: 'a' })).rejects.toMatchObject(
      code('NOT_TRACKED'),
    );
    expect(readFileSync(stranger, 'utf8')).toBe('not tracked\n');
    expect(await ledger.head()).toBe(head);
  });

  it('refuses to restore into a directory that is gone, leaving the ledger consistent', async () => {
    const { f, ledger } = await setup();
    const file = f.put('etc/sub/x.conf', 'x\n');
    const { commit } = await ledger.record({ paths: [file], ...who() });
    rmSync(f.at('etc/sub'), { recursive: true });
    await expect(ledger.restore(file, commit!, { approver: 'a' })).rejects.toMatchObject(
      code('RESTORE_FAILED'),
    );
    git(f.ledgerDir, 'fsck', '--strict');
  });
});

describe('ledger path rules', () => {
  it('refuses relative, dotted, NUL and state-directory paths, committing nothing', async () => {
    const { f, ledger } = await setup();
    const good = f.put('etc/ok', 'ok\n');
    mkdirSync(join(f.state, 'data'), { recursive: true });
    writeFileSync(join(f.state, 'data', 'dropops.db'), 'vault');
    symlinkSync(join(f.state, 'data'), f.at('innocent-link'));
    const head = await ledger.head();
    for (const bad of [
      'etc/ok',
      './etc/ok',
      `${f.host}/etc/../etc/ok`,
      `${f.host}/etc/ok\0.txt`,
      `${f.host}/etc/o\nk`,
      join(f.state, 'policy.json'),
      join(f.ledgerDir, 'HEAD'),
      f.state,
      f.at('innocent-link/dropops.db'),
      f.at('repo/.git/config'),
      f.at('repo/.GIT./config'),
      f.at('repo/git~1/config'),
      '/',
    ])
      await expect(ledger.record({ paths: [good, bad], ...who() }), bad).rejects.toMatchObject(
        code('PATH_OUTSIDE_TREE'),
      );
    expect(await ledger.head()).toBe(head);
    await expect(ledger.log('etc/ok')).rejects.toMatchObject(code('PATH_OUTSIDE_TREE'));
    await expect(
      ledger.restore(join(f.state, 'data', 'dropops.db'), 'HEAD', { approver: 'a' }),
    ).rejects.toMatchObject(code('PATH_OUTSIDE_TREE'));
  });

  it('refuses FIFOs, sockets, devices and dangling links, and restoring over a directory', async () => {
    const { f, ledger } = await setup();
    execFileSync('mkfifo', [f.at('fifo')]);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(f.at('sock'), resolve));
    symlinkSync('/dev/null', f.at('devnull'));
    symlinkSync(f.at('missing'), f.at('dangling'));
    try {
      for (const bad of ['fifo', 'sock', 'devnull', 'dangling'])
        await expect(ledger.snapshot([f.at(bad)], who()), bad).rejects.toMatchObject(
          code('NOT_A_REGULAR_FILE'),
        );
    } finally {
      server.close();
    }
    // A directory holds no file: nothing to snapshot, and nothing may be restored over it.
    const dir = f.put('dir', 'was a file\n');
    const { commit } = await ledger.record({ paths: [dir], ...who() });
    rmSync(dir);
    mkdirSync(dir);
    expect((await ledger.snapshot([dir], who('exec-2'))).changed.map((c) => c.after)).toEqual([null]);
    await expect(ledger.restore(dir, commit!, { approver: 'a' })).rejects.toMatchObject(
      code('NOT_A_REGULAR_FILE'),
    );
  });

  it('follows symlinks to the real file: records and restores the target, leaving the link a link', async () => {
    const { f, ledger } = await setup();
    const real = f.put('etc/nginx/sites-available/site', 'server {}\n');
    mkdirSync(f.at('etc/nginx/sites-enabled'));
    const link = f.at('etc/nginx/sites-enabled/site');
    symlinkSync('../sites-available/site', link);
    const { changed, commit } = await ledger.record({ paths: [link], ...who() });
    expect(changed.map((c) => c.path)).toEqual([real]);
    writeFileSync(link, 'server { broken }\n');
    await ledger.record({ paths: [link], ...who('exec-2') });
    expect((await ledger.log(link)).length).toBe(2);
    await ledger.restore(link, commit!, { approver: 'alice' });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('../sites-available/site');
    expect(readFileSync(real, 'utf8')).toBe('server {}\n');
  });

  it('refuses trailer values that would forge or break the message', async () => {
    const { f, ledger } = await setup();
    const file = f.put('etc/x', 'x');
    for (const bad of [
      { executionId: 'e1\nApproved-By: mallory', approver: 'a' },
      { executionId: 'e1', approver: '' },
      { executionId: 'e1', approver: ' padded' },
      { executionId: 'e1', approver: 'x'.repeat(201) },
    ])
      await expect(ledger.record({ paths: [file], ...bad })).rejects.toMatchObject(code('BAD_META'));
    await ledger.record({
      paths: [file],
      executionId: 'e1',
      approver: 'a',
      note: 'para\n\nApproved-By: mallory',
    });
    expect((await ledger.log())[0]!.approver).toBe('a');
  });
});

describe('opening a ledger', () => {
  it('refuses a directory that is not a ledger and leaves it untouched', async () => {
    const f = fixture();
    mkdirSync(f.ledgerDir, { recursive: true });
    writeFileSync(join(f.ledgerDir, 'notes.txt'), 'mine');
    await expect(openLedger(f.state)).rejects.toMatchObject(code('LEDGER_CORRUPT'));
    expect(readFileSync(join(f.ledgerDir, 'notes.txt'), 'utf8')).toBe('mine');

    const g = fixture();
    mkdirSync(g.ledgerDir, { recursive: true });
    execFileSync('git', ['init', '--quiet', '--bare', g.ledgerDir]);
    await expect(openLedger(g.state)).rejects.toMatchObject(code('LEDGER_CORRUPT'));

    const h = fixture();
    mkdirSync(join(h.state, 'data'), { recursive: true });
    writeFileSync(h.ledgerDir, 'a file');
    await expect(openLedger(h.state)).rejects.toMatchObject(code('LEDGER_CORRUPT'));
    await expect(openLedger(fixture().state, { create: false })).rejects.toMatchObject(code('NO_LEDGER'));
  });

  it('refuses a ledger whose head commit is gone instead of starting a new one', async () => {
    const { f, ledger } = await setup();
    await ledger.record({ paths: [f.put('etc/x', 'x')], ...who() });
    const head = await ledger.head();
    rmSync(join(f.ledgerDir, 'objects', head.slice(0, 2), head.slice(2)));
    await expect(openLedger(f.state)).rejects.toMatchObject(code('LEDGER_CORRUPT'));
    expect(existsSync(join(f.ledgerDir, 'refs', 'heads', 'main'))).toBe(true);
  });

  it('reopens an existing ledger and reads what a packed ledger (after git gc) holds', async () => {
    const { f, ledger } = await setup();
    const file = f.put('etc/x', 'one\n');
    await ledger.record({ paths: [file], ...who() });
    git(f.ledgerDir, 'gc', '--quiet', '--prune=now');
    const again = await openLedger(f.state);
    writeFileSync(file, 'two\n');
    await again.record({ paths: [file], ...who('exec-2') });
    expect((await again.log(file)).map((e) => e.executionId)).toEqual(['exec-2', 'exec-1']);
    git(f.ledgerDir, 'fsck', '--strict');
  });
});

describe('ledger writers', () => {
  it('follows a head another process advanced', async () => {
    const { f, ledger } = await setup();
    const a = f.put('etc/a', 'a1\n');
    const b = f.put('etc/b', 'b1\n');
    await ledger.record({ paths: [a, b], ...who() });
    const other = await openLedger(f.state);
    writeFileSync(b, 'b2\n');
    const theirs = await other.record({ paths: [b], ...who('exec-other') });
    writeFileSync(a, 'a2\n');
    const ours = await ledger.record({ paths: [a], ...who('exec-ours') });
    expect(git(f.ledgerDir, 'log', '-1', '--format=%P', ours.commit!).trim()).toBe(theirs.commit);
    expect(git(f.ledgerDir, 'show', `HEAD:${b.slice(1)}`)).toBe('b2\n');
    expect(git(f.ledgerDir, 'show', `HEAD:${a.slice(1)}`)).toBe('a2\n');
  });

  it('waits for a live process holding the lock, then takes over a dead one', async () => {
    const { f, ledger } = await setup();
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const impatient = await openLedger(f.state, { lockWaitMs: 50 });
      writeFileSync(`${f.ledgerDir}.lock`, `${holder.pid}\n`);
      await expect(impatient.record({ paths: [f.put('etc/x', 'x')], ...who() })).rejects.toMatchObject(
        code('LEDGER_LOCKED'),
      );
    } finally {
      const exited = new Promise((r) => holder.once('exit', r));
      holder.kill('SIGKILL');
      await exited;
    }
    expect((await ledger.record({ paths: [f.at('etc/x')], ...who() })).commit).not.toBeNull();
  });

  it('queues concurrent calls on one ledger into a linear history', async () => {
    const { f, ledger } = await setup();
    const paths = Array.from({ length: 12 }, (_, i) => f.put(`etc/c/${i}`, `${i}\n`));
    const results = await Promise.all(
      paths.map((p, i) => ledger.record({ paths: [p], ...who(`exec-${i}`) })),
    );
    expect(new Set(results.map((r) => r.commit)).size).toBe(12);
    expect(lsTree(f.ledgerDir).size).toBe(12);
    expect(git(f.ledgerDir, 'rev-list', '--count', 'HEAD').trim()).toBe('13');
  });

  it('stays consistent when a writer is killed with SIGKILL', async () => {
    const f = fixture();
    const child = spawn(process.execPath, ['--import', 'tsx', writerChild, f.state, f.host], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      child.stdout.on('data', (d: Buffer) => (seen += d.toString()).includes('committed 20') && resolve());
      child.once('exit', (c) => reject(new Error(`child exited early (${c})`)));
    });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    git(f.ledgerDir, 'fsck', '--strict', '--no-dangling');
    const ledger = await openLedger(f.state);
    const file = f.put('after-kill', 'ok\n');
    expect((await ledger.record({ paths: [file], ...who() })).commit).not.toBeNull();
    git(f.ledgerDir, 'fsck', '--strict', '--no-dangling');
  });
});
