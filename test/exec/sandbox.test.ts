import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectSandbox, noSandbox, type Sandbox } from '../../operator/src/exec/index.ts';
import { tempDir } from '../helpers.ts';
import { bench } from './helpers.ts';

const run = promisify(execFile);
const dir = tempDir('dropops-sandbox-');
let port = 0;
let connections = 0;
const server = createServer((s) => {
  connections++;
  s.destroy();
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => {
  server.close();
  dir.remove();
});

/** Runs an arbitrary shell script as the sandbox would run a program: what a classifier bug would let through. */
async function attack(sandbox: Sandbox, script: string): Promise<number> {
  const { file, args } = sandbox.launch('/bin/bash', ['bash', '-c', script], dir.path);
  try {
    await run(file, args, { cwd: dir.path, env: { PATH: '/usr/bin:/bin', HOME: homedir() } });
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? 1;
  }
}

const kinds = { bwrap: {}, unshare: { bwrap: '/nonexistent/bwrap' } };

describe.each(Object.entries(kinds))('%s sandbox', (kind, options) => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await detectSandbox(options);
  });

  it('is detected here, or the test says why not', (ctx) => {
    if (sandbox.kind !== kind) return ctx.skip(`${kind} does not work on this machine: ${sandbox.notice}`);
    expect(sandbox.notice).not.toContain('no sandbox');
  });

  it('refuses writes to the working directory and the home directory', async (ctx) => {
    if (sandbox.kind !== kind) return ctx.skip(`${kind} unavailable`);
    const inCwd = join(dir.path, `written-by-${kind}`);
    const inHome = join(homedir(), `.dropops-sandbox-test-${process.pid}`);
    expect(await attack(sandbox, `echo x > ${inCwd}`)).not.toBe(0);
    expect(await attack(sandbox, `echo x > ${inHome}`)).not.toBe(0);
    expect(existsSync(inCwd) || existsSync(inHome)).toBe(false);
    // Control: the same script outside the sandbox does write.
    expect(await attack(noSandbox, `echo x > ${inCwd}`)).toBe(0);
    expect(existsSync(inCwd)).toBe(true);
  });

  it('has no network, not even loopback to a port the host listens on', async (ctx) => {
    if (sandbox.kind !== kind) return ctx.skip(`${kind} unavailable`);
    const connect = `exec 3<>/dev/tcp/127.0.0.1/${port}`;
    connections = 0;
    expect(await attack(sandbox, connect)).not.toBe(0);
    expect(connections).toBe(0);
    expect(await attack(noSandbox, connect)).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(connections).toBe(1);
  });

  it('still reads the working directory, and auto commands run inside it', async (ctx) => {
    if (sandbox.kind !== kind) return ctx.skip(`${kind} unavailable`);
    writeFileSync(join(dir.path, 'readable.txt'), 'visible\n');
    expect(await attack(sandbox, `grep -q visible ${join(dir.path, 'readable.txt')}`)).toBe(0);
    const b = await bench(sandbox);
    try {
      // Only loopback in the command's network namespace (two header lines and `lo`).
      const r = await b.run('grep -c : /proc/net/dev');
      expect(r.modelOutput).toBe('1\n');
    } finally {
      b.close();
    }
  });
});
