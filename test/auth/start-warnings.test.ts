import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, tempDir } from '../helpers.ts';
import { eventually } from '../support/appliance.ts';
import type { Browser } from '../support/browser.ts';
import { firstSignIn, newBrowser, whoAmI } from '../support/sign-in-flow.ts';

// oidc-provider prints this itself on Node 20 and cannot be told not to; Node 22 and later (the images run 24)
// do not get it. Every other line of oidc-provider's is a configuration left to its development defaults.
const RUNTIME_NOTICE = /oidc-provider WARNING: Unsupported runtime/;

describe('dropops-appliance start with the embedded provider', () => {
  const work = tempDir();
  const dataDir = join(work.path, 'data');
  let child: ChildProcess;
  let stdout = '';
  let stderr = '';
  let exited: Promise<number | null>;
  let browser: Browser | undefined;

  beforeAll(async () => {
    child = spawn(bin('dropops-appliance'), ['start', '--data-dir', dataDir, '--port', '0'], {
      // The embedded database, as a first `npm start` has it.
      env: { ...process.env, DATABASE_URL: '', REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (c: Buffer) => (stdout += c));
    child.stderr!.on('data', (c: Buffer) => (stderr += c));
    exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    await eventually(
      () => /one-time password: \S+/.test(stdout),
      'the appliance to print its sign-in lines',
      90_000,
    );
  });
  afterAll(async () => {
    await browser?.close();
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    work.remove();
  });

  it('prints no oidc-provider warning or notice through a start, a sign-in and a stop', async () => {
    const url = /running at (https:\/\/\S+)/.exec(stdout)![1]!;
    const oneTimePassword = /one-time password: (\S+)/.exec(stdout)![1]!;
    browser = newBrowser(dataDir);
    const { page } = await firstSignIn(browser, url, oneTimePassword, 'a passphrase for the quiet start');
    expect(page.status, page.text).toBe(200);
    expect((await whoAmI(browser, url)).user.name).toBe('admin');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const providerLines = `${stdout}\n${stderr}`
      .split('\n')
      .filter((line) => /oidc-provider (WARNING|NOTICE):/.test(line) && !RUNTIME_NOTICE.test(line));
    expect(providerLines).toEqual([]);
  });
});
