import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, utimesSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noSandbox } from '../../operator/src/exec/index.ts';
import { bench, type Bench } from './helpers.ts';

// Without the sandbox: these tests prove the git hardening itself, not the read-only filesystem.
let b: Bench;
let repo: string;
let marker: string;

const git = (...args: string[]) =>
  execFileSync('git', args, { cwd: repo, env: { ...process.env, GIT_PAGER: '' } });

beforeAll(async () => {
  b = await bench(noSandbox);
  repo = join(b.dir, 'repo');
  marker = join(b.dir, 'pwned');
  const evil = join(b.dir, 'evil.sh');
  // Passes data through, like a harmless filter or pager would, and leaves a mark when run.
  writeFileSync(evil, `#!/bin/sh\necho "$0 $*" >> ${marker}\ncat\n`, { mode: 0o755 });
  execFileSync('git', ['init', '-q', repo]);
  git('config', 'user.email', 't@example.com');
  git('config', 'user.name', 't');
  writeFileSync(join(repo, 'f.txt'), 'hello\n');
  writeFileSync(join(repo, '.gitattributes'), '* filter=evil diff=evil\n');
  git('add', '.');
  git('commit', '-qm', 'init');
  appendFileSync(join(repo, 'f.txt'), 'more\n');
  git('commit', '-qam', 'second');
  appendFileSync(join(repo, 'f.txt'), 'dirty\n');
  // An old mtime makes git look at the content, which runs the clean filter.
  utimesSync(join(repo, 'f.txt'), new Date('2001-01-01'), new Date('2001-01-01'));
  for (const [key, value] of [
    ['core.fsmonitor', evil],
    ['core.pager', evil],
    ['pager.log', evil],
    ['diff.external', evil],
    ['filter.evil.clean', evil],
    ['filter.evil.smudge', evil],
    ['filter.evil.required', 'true'],
    ['diff.evil.command', evil],
    ['diff.evil.textconv', evil],
    ['gpg.program', evil],
    ['log.showSignature', 'true'],
  ])
    git('config', key!, value!);
});
afterAll(() => b.close());

describe('git under the executor', () => {
  it('the repository really is booby-trapped for plain git', () => {
    rmSync(marker, { force: true });
    execFileSync('git', ['status'], { cwd: repo });
    expect(existsSync(marker)).toBe(true);
    rmSync(marker, { force: true });
    execFileSync('git', ['diff'], { cwd: repo });
    expect(existsSync(marker)).toBe(true);
  });

  const commands = [
    'git status',
    'git status -v',
    'git diff',
    'git diff HEAD~1',
    'git log -p',
    'git show HEAD',
    'git blame f.txt',
    'git describe --always --dirty',
    'timeout 10 git diff',
    'env git log -p -n 1',
  ];
  it.each(commands)('%s runs none of the configured programs', async (command) => {
    rmSync(marker, { force: true });
    const r = await b.run(command, { cwd: repo });
    expect(existsSync(marker) ? readMarker() : '').toBe('');
    expect(r.exitCode, r.modelOutput).toBe(0);
  });

  it('still shows what git shows', async () => {
    expect((await b.run('git diff', { cwd: repo })).modelOutput).toContain('+dirty');
    expect((await b.run('git log -p -n 1', { cwd: repo })).modelOutput).toContain('+more');
    expect((await b.run('git -C repo status --short')).modelOutput).toBe(' M f.txt\n');
  });

  it('records the hardened argv', async () => {
    const r = await b.run('git diff', { cwd: repo });
    const opened = [...b.vault.events({ type: 'CMD_EXEC' })].find((e) => e.id === r.eventId)!;
    const argv = (opened.payload as { argv: string[][] }).argv[0]!;
    expect(argv).toEqual(
      expect.arrayContaining([
        '--no-pager',
        'core.fsmonitor=false',
        'filter.evil.clean=',
        'diff.evil.command=',
      ]),
    );
    expect(argv.slice(argv.indexOf('diff'))).toEqual([
      'diff',
      '--no-ext-diff',
      '--no-textconv',
      '--ignore-submodules=dirty',
    ]);
  });

  it('sends options that would start git inside submodules to approval', async () => {
    await expect(b.run('git status --ignore-submodules=none', { cwd: repo })).rejects.toMatchObject({
      code: 'PLAN_REFUSED',
    });
  });
});

function readMarker(): string {
  return execFileSync('cat', [marker], { encoding: 'utf8' });
}
