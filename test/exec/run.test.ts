import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ExecError,
  execute,
  MODEL_LIMIT,
  noSandbox,
  type ExecResult,
} from '../../operator/src/exec/index.ts';
import { findSecrets } from '../../operator/src/redact/index.ts';
import { openVault, vaultPath, verifyVault } from '../../operator/src/vault/index.ts';
import { tempDir } from '../helpers.ts';
import { bench, dead, silent, until, type Bench } from './helpers.ts';

let b: Bench;
beforeAll(async () => {
  b = await bench();
});
afterAll(() => b.close());

const out = (r: ExecResult) => r.modelOutput;

/** The output rows of one execution, read straight from the SQLite file. */
function storedOutput(eventId: string): { stdout: Buffer; stderr: Buffer; chunks: number } {
  const db = new Database(vaultPath(join(b.dir, '.dropops')), { readonly: true });
  try {
    const rows = db
      .prepare<{ stream: string; data: Buffer }>(
        'SELECT stream, data FROM outputs WHERE event_id = ? ORDER BY stream, chunk_seq',
      )
      .all(eventId);
    const of = (s: string) => Buffer.concat(rows.filter((r) => r.stream === s).map((r) => r.data));
    return { stdout: of('stdout'), stderr: of('stderr'), chunks: rows.length };
  } finally {
    db.close();
  }
}

describe('auto commands run from their plan', () => {
  it('chains lists and pipelines with bash exit-status semantics', async () => {
    writeFileSync(join(b.dir, 'words.txt'), 'b\na\nb\nc\nb\n');
    expect(out(await b.run('sort words.txt | uniq -c | sort -rn | head -n 1'))).toMatch(/^\s+3 b\n$/);
    expect((await b.run('true && false')).exitCode).toBe(1);
    expect((await b.run('false || true')).exitCode).toBe(0);
    expect((await b.run('false; true')).exitCode).toBe(0);
    expect((await b.run('! true')).exitCode).toBe(1);
    expect((await b.run('false | true')).exitCode).toBe(0);
    expect((await b.run('true | false')).exitCode).toBe(1);
    expect(out(await b.run('false && echo no || echo yes'))).toBe('yes\n');
    expect(out(await b.run('ls no-such-file 2>&1 | wc -l'))).toBe('1\n');
    expect(out(await b.run('{ echo a; echo b; } | wc -l'))).toBe('2\n');
    expect(out(await b.run('ls no-such-file 2>/dev/null || echo gone'))).toBe('gone\n');
  });

  it('ends a pipeline when its reader stops (the writer gets SIGPIPE)', async () => {
    const r = await b.run('cat /dev/zero | head -c 10');
    expect(r.exitCode).toBe(0);
    expect(r.stdoutBytes).toBe(10);
  });

  it('expands globs in the working directory and leaves an unmatched one literal', async () => {
    mkdirSync(join(b.dir, 'logs'));
    for (const f of ['b.log', 'a.log', '.hidden.log']) writeFileSync(join(b.dir, 'logs', f), '');
    expect(out(await b.run('ls -d logs/*.log'))).toBe('logs/a.log\nlogs/b.log\n');
    const r = await b.run('ls logs/*.nomatch');
    expect(r.exitCode).toBe(2);
    expect(out(r)).toContain("'logs/*.nomatch'");
  });

  it('gives the child the scrubbed environment and nothing the operator inherited', async () => {
    const parentEnv = {
      ...process.env,
      LD_PRELOAD: '/nonexistent/evil.so',
      BASH_ENV: '/nonexistent/evil.sh',
      ENV: '/nonexistent/evil.sh',
      GIT_DIR: '/nonexistent',
      GIT_CONFIG_PARAMETERS: "'core.pager=evil'",
      PAGER: 'evil',
      NODE_OPTIONS: '--require=/nonexistent.js',
      KUBECONFIG: '/nonexistent',
      DROPOPS_TEST_SECRET: 'hunter2',
    };
    for (const mode of ['auto', 'approved'] as const) {
      const r = await b.run('env', { mode, parentEnv });
      const keys = out(r)
        .trim()
        .split('\n')
        .map((l) => l.slice(0, l.indexOf('=')));
      // Shells and bubblewrap add PWD (and sh SHLVL/OLDPWD); nothing else may appear.
      expect(keys.filter((k) => !['PWD', 'OLDPWD', 'SHLVL', '_'].includes(k)).sort(), mode).toEqual([
        'HOME',
        'LANG',
        'LC_ALL',
        'PATH',
        'TERM',
        'USER',
      ]);
      expect(out(r)).not.toContain('hunter2');
      expect(r.stderrBytes, 'no ld.so complaint: LD_PRELOAD never reached the child').toBe(0);
    }
    expect(out(await b.run('echo $HOME', { parentEnv: { ...parentEnv, HOME: '/home/elsewhere' } }))).toBe(
      '/home/elsewhere\n',
    );
  });

  it('refuses programs outside the trusted directories, whatever PATH says', async () => {
    const evil = join(b.dir, 'evil-bin');
    mkdirSync(evil);
    const marker = join(b.dir, 'shadowed');
    writeFileSync(join(evil, 'ls'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    writeFileSync(join(b.dir, 'evil'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    const r = await b.run('ls -d evil', { parentEnv: { ...process.env, PATH: `${evil}:/usr/bin:/bin` } });
    expect(out(r)).toBe('evil\n');
    expect(existsSync(marker)).toBe(false);
    await expect(b.run('./evil')).rejects.toMatchObject({ code: 'PLAN_REFUSED' });
    await expect(b.run(`${evil}/ls`)).rejects.toMatchObject({ code: 'PLAN_REFUSED' });
    expect(existsSync(marker)).toBe(false);
  });

  it('gives stdin /dev/null, or the here-document', async () => {
    expect(out(await b.run('ls -l /proc/self/fd/0'))).toContain('-> /dev/null');
    expect((await b.run('cat')).stdoutBytes).toBe(0);
    expect((await b.run('cat', { mode: 'approved' })).stdoutBytes).toBe(0);
    expect(out(await b.run('cat <<EOF\nhello $USER\nEOF'))).toBe(`hello ${process.env.USER ?? 'root'}\n`);
    writeFileSync(join(b.dir, 'in.txt'), 'from file\n');
    expect(out(await b.run('cat < in.txt'))).toBe('from file\n');
    const missing = await b.run('cat < missing.txt');
    expect(missing.exitCode).toBe(1);
    expect(out(missing)).toBe('dropops: missing.txt: No such file or directory\n');
  });

  it('refuses before running: policy denials, commands needing approval, unknown programs', async () => {
    await expect(b.run('sudo ls', { mode: 'approved' })).rejects.toMatchObject({ code: 'DENIED' });
    await expect(b.run('rm -rf x')).rejects.toMatchObject({ code: 'PLAN_REFUSED' });
    await expect(b.run('echo $(id)')).rejects.toThrow(/command substitution/);
    await expect(b.run('ls', { cwd: 'relative' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const events = [...b.vault.events({ type: 'CMD_EXEC' })].filter((e) =>
      ['sudo ls', 'rm -rf x'].includes((e.payload as { command?: string }).command ?? ''),
    );
    expect(events).toEqual([]);
  });
});

describe('recording', () => {
  it('streams the whole output into the vault and seals it with sizes and sha256', async () => {
    const r = await b.run('echo out; ls no-such; echo more', { mode: 'approved' });
    const stored = storedOutput(r.eventId);
    expect(stored.stdout.toString()).toBe('out\nmore\n');
    expect(stored.stderr.toString()).toContain('no-such');
    expect(r.sha256).toBe(createHash('sha256').update(stored.stdout).update(stored.stderr).digest('hex'));
    const seal = [...b.vault.events({ type: 'CMD_EXEC' })].find((e) => e.id === r.sealEventId)!;
    expect(seal.payload).toMatchObject({
      sealOf: r.eventId,
      executionId: r.executionId,
      outcome: 'exited',
      exitCode: 0,
      sha256: r.sha256,
      stdout: { bytes: r.stdoutBytes },
      stderr: { bytes: r.stderrBytes },
    });
    expect(r.chainHead.hash).toBe(seal.hash);
    expect(verifyVault(join(b.dir, '.dropops')).ok).toBe(true);
  });

  it('keeps an output over 100 KiB whole in the vault and cuts it for the model', async () => {
    const lines = Array.from(
      { length: 20_000 },
      (_, i) => `line ${String(i).padStart(6, '0')} ${'x'.repeat(40)}\n`,
    );
    writeFileSync(join(b.dir, 'big.txt'), lines.join(''));
    const big = readFileSync(join(b.dir, 'big.txt'));
    const r = await b.run('cat big.txt');
    const stored = storedOutput(r.eventId);
    expect(stored.stdout.equals(big)).toBe(true);
    expect(r.stdoutBytes).toBe(big.length);
    expect(r.sha256).toBe(createHash('sha256').update(big).digest('hex'));
    expect(stored.chunks).toBeLessThan(big.length / 65_536 + 2);
    expect(r.modelOutput.length).toBeLessThan(MODEL_LIMIT + 1000);
    expect(r.modelOutput.startsWith('line 000000 ')).toBe(true);
    expect(r.modelOutput.endsWith(`line 019999 ${'x'.repeat(40)}\n`)).toBe(true);
    const note =
      /\[… (\d+) bytes left out here; the whole output \((\d+) bytes, sha256 ([0-9a-f]{64})\) is kept on the host/.exec(
        r.modelOutput,
      );
    expect(note).not.toBeNull();
    expect(Number(note![2])).toBe(big.length);
    const shown = Buffer.byteLength(r.modelOutput.replace(/\n\[….*…\]\n/, ''));
    expect(shown + Number(note![1])).toBe(big.length);
  });

  it('never shows part of a secret that straddles a cut', async () => {
    const token = (n: number) => `ghp_${randomBytes(27).toString('base64url').slice(0, 36)}${n}`.slice(0, 40);
    const headSecret = token(1);
    const tailSecret = token(2);
    const filler = (n: number) => 'log line without secrets\n'.repeat(Math.ceil(n / 25)).slice(0, n);
    const size = 400_000;
    const head = filler(MODEL_LIMIT / 2 - 20) + `token=${headSecret}\n`;
    const tail = `token=${tailSecret}\n` + filler(MODEL_LIMIT / 2 - 20);
    const text = head + filler(size - head.length - tail.length) + tail;
    expect(findSecrets(text).length).toBe(2);
    writeFileSync(join(b.dir, 'secrets.txt'), text);
    const r = await b.run('cat secrets.txt');
    expect(storedOutput(r.eventId).stdout.toString()).toBe(text);
    for (const secret of [headSecret, tailSecret])
      for (let i = 0; i + 8 <= secret.length; i++)
        expect(r.modelOutput).not.toContain(secret.slice(i, i + 8));
    expect(r.modelOutput.match(/\[REDACTED:[a-z-]+\]/g)).toHaveLength(2);
  });

  it('describes binary output instead of showing it', async () => {
    const r = await b.run('head -c 4096 /dev/urandom');
    expect(r.stdoutBytes).toBe(4096);
    expect(r.modelOutput).toBe(`[binary output: 4096 bytes, sha256 ${r.sha256}]`);
    expect((await b.run('head -c 100 /dev/zero')).modelOutput).toMatch(/^\[binary output: 100 bytes/);
  });
});

describe('stopping', () => {
  it('cancelling kills the whole process group, grandchildren included', async () => {
    const pidFile = join(b.dir, 'grandchild.pid');
    const controller = new AbortController();
    const running = b.run(`sh -c 'sleep 100 & echo $! > ${pidFile}; wait'`, {
      mode: 'approved',
      signal: controller.signal,
    });
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(dead(pid)).toBe(false);
    controller.abort();
    const err = (await running.catch((e: unknown) => e)) as ExecError;
    expect(err).toBeInstanceOf(ExecError);
    expect(err.code).toBe('CANCELLED');
    expect(err.result).toMatchObject({ outcome: 'cancelled', signal: 'SIGTERM', exitCode: null });
    await until(() => dead(pid));
    // The cancelled run is still sealed.
    expect([...b.vault.events({ type: 'CMD_EXEC' })].some((e) => e.id === err.result!.sealEventId)).toBe(
      true,
    );
  });

  it('escalates to SIGKILL for processes that ignore SIGTERM', async () => {
    const pidFile = join(b.dir, 'stubborn.pid');
    const controller = new AbortController();
    const running = b.run(`trap '' TERM; sleep 100 & echo $! > ${pidFile}; wait; wait`, {
      mode: 'approved',
      signal: controller.signal,
      killGraceMs: 200,
    });
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
    const pid = Number(readFileSync(pidFile, 'utf8'));
    controller.abort();
    const err = (await running.catch((e: unknown) => e)) as ExecError;
    expect(err.code).toBe('CANCELLED');
    await until(() => dead(pid));
  });

  it('a configured timeout kills the command', async () => {
    const err = (await b
      .run('sleep 30', { mode: 'approved', timeoutMs: 100 })
      .catch((e: unknown) => e)) as ExecError;
    expect(err.code).toBe('TIMED_OUT');
    expect(err.result?.signal).toBe('SIGTERM');
  });

  it('a vault that stops accepting output stops the command', async () => {
    const other = await bench();
    const pidFile = join(other.dir, 'writer.pid');
    const running = other.run(`echo $$ > ${pidFile}; while :; do echo flood; done`, { mode: 'approved' });
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
    const pid = Number(readFileSync(pidFile, 'utf8'));
    other.vault.close();
    const err = (await running.catch((e: unknown) => e)) as ExecError;
    expect(err.code).toBe('VAULT_WRITE_FAILED');
    await until(() => dead(pid));
    expect(verifyVault(join(other.dir, '.dropops')).ok).toBe(true);
    other.close();
  });

  it('a full disk stops the command and leaves a consistent vault', async (ctx) => {
    const t = tempDir('dropops-full-');
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', t.path]);
    if (mount.status !== 0) {
      t.remove();
      return ctx.skip('needs permission to mount a small tmpfs');
    }
    try {
      const vault = openVault(join(t.path, '.dropops'));
      const { id } = vault.startSession({ operatorId: 'op-full' });
      const err = (await execute(
        { executionId: 'full-1', command: 'head -c 50000000 /dev/zero', mode: 'approved', cwd: t.path },
        { vault, sessionId: id, sandbox: noSandbox, log: silent },
      ).catch((e: unknown) => e)) as ExecError;
      expect(err.code).toBe('VAULT_WRITE_FAILED');
      vault.close();
      expect(verifyVault(join(t.path, '.dropops')).ok).toBe(true);
    } finally {
      spawnSync('umount', [t.path]);
      t.remove();
    }
  });
});
