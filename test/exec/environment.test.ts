import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveProgram, scrubbedEnv, SYSTEM_PATH, trustedDirs } from '../../operator/src/exec/index.ts';
import { tempDir } from '../helpers.ts';

const dir = tempDir('dropops-env-');
afterAll(() => dir.remove());

describe('scrubbed environment', () => {
  it('keeps only the allowlist, whatever the parent holds', () => {
    const env = scrubbedEnv({
      HOME: '/home/u',
      USER: 'u',
      LANG: 'de_DE.UTF-8',
      LD_PRELOAD: '/evil.so',
      LD_LIBRARY_PATH: '/evil',
      BASH_ENV: '/evil',
      ENV: '/evil',
      PAGER: 'evil',
      LESSOPEN: '|evil %s',
      GIT_DIR: '/evil',
      GIT_EXTERNAL_DIFF: 'evil',
      NODE_OPTIONS: '--require=/evil.js',
      KUBECONFIG: '/evil',
      PYTHONPATH: '/evil',
      PERL5OPT: '-Mevil',
      PATH: '/tmp/evil:/usr/bin',
      TERM: 'xterm',
    });
    expect(Object.keys(env).sort()).toEqual(['HOME', 'LANG', 'LC_ALL', 'PATH', 'TERM', 'USER']);
    expect(env).toMatchObject({
      HOME: '/home/u',
      USER: 'u',
      LANG: 'de_DE.UTF-8',
      LC_ALL: 'C.UTF-8',
      TERM: 'dumb',
    });
    expect(env.PATH!.split(':').every((d) => SYSTEM_PATH.includes(d))).toBe(true);
    expect(scrubbedEnv({ LANG: '../../tmp/evil' }).LANG).toBe('C.UTF-8');
  });
});

describe('program resolution', () => {
  it('finds programs in the root-owned system directories only', () => {
    expect(resolveProgram('ls')).toMatch(/^\/usr\/(local\/)?s?bin\/ls$|^\/s?bin\/ls$/);
    expect(resolveProgram('/usr/bin/ls')).toBe('/usr/bin/ls');
    for (const name of [
      './evil',
      'evil/ls',
      '../bin/ls',
      '/usr/bin/../bin/ls',
      '/tmp/ls',
      '',
      'no-such-program-x',
    ])
      expect(resolveProgram(name), name).toBeNull();
  });

  it('drops candidate directories others can write to, or that sit below one', () => {
    const open = join(dir.path, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const closed = join(dir.path, 'closed');
    mkdirSync(closed, { mode: 0o755 });
    writeFileSync(join(closed, 'ls'), '#!/bin/sh\ntouch /tmp/pwned\n', { mode: 0o755 });
    // `closed` itself is fine, but /tmp above it is world-writable: someone could swap it.
    expect(trustedDirs([open, closed, '/usr/bin'])).toEqual(['/usr/bin']);
    expect(resolveProgram('ls', trustedDirs([closed, '/usr/bin']))).toBe('/usr/bin/ls');
    expect(resolveProgram(join(closed, 'ls'))).toBeNull();
  });
});
