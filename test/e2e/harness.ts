// The end-to-end harness: a real relay serving the built console, a scripted model behind the Ollama wire
// protocol, headless Debian Chromium driven by playwright-core, and real operators started as child processes
// from the enroll command line the operator panel shows.
import { spawn, type ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { ensureConsoleBuilt } from '../../scripts/build-console.ts';
import { bin, exec, tempDir } from '../helpers.ts';
import { startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { startOllamaFake, type OllamaFake, type OllamaFakeTurn } from '../support/ollama-fake.ts';

export const CHROMIUM = process.env.DROPOPS_CHROMIUM ?? '/usr/bin/chromium';
/** Generous: the machine has two cores and runs the relay, two operators and the browser at once. */
export const UI_TIMEOUT_MS = 30_000;

/** Retries an assertion on what the page shows until it holds (playwright-core has no `expect` of its own). */
export const until = <T>(read: () => Promise<T>) =>
  expect.poll(read, { timeout: UI_TIMEOUT_MS, interval: 100 });
/** The rendered text of every element the locator matches, without waiting for any. */
export const textOf = async (locator: Locator) => (await locator.allInnerTexts()).join('\n');

// As the machine's notes advise: nothing in Chromium dials out to the (closed) network by itself.
const CHROMIUM_ARGS = [
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface E2E {
  relay: TestAppliance;
  model: OllamaFake | null;
  browser: Browser;
  /** A fresh browser context (its own cookies): one per person. */
  person(): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

/** Starts everything; `script` drives the model, or `null` for the `none` adapter (no model connected). */
export async function startE2E(script: readonly OllamaFakeTurn[] | null): Promise<E2E> {
  await ensureConsoleBuilt({ quiet: true });
  const model = script ? await startOllamaFake(script) : null;
  const relay = await startTestAppliance('pglite', {
    llm: model ? 'ollama' : 'none',
    ...(model ? { ollamaUrl: model.url, ollamaModel: 'llama3.1' } : {}),
    // Operators connect and reconnect quickly in tests.
    reconnectGraceMs: 2_000,
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const contexts: BrowserContext[] = [];
  return {
    relay,
    model,
    browser,
    async person() {
      // The relay's certificate chains to its own CA, which this throwaway profile does not trust.
      const context = await browser.newContext({
        ignoreHTTPSErrors: true,
        viewport: { width: 1440, height: 900 },
        baseURL: relay.url,
      });
      context.setDefaultTimeout(UI_TIMEOUT_MS);
      contexts.push(context);
      const page = await context.newPage();
      // Confirmations (revoke key) are accepted, as the person would.
      page.on('dialog', (dialog) => void dialog.accept());
      // Script errors show in the test output, not only as a blank page (the 401 before sign-in is expected).
      page.on('console', (message) => {
        if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
          console.error(`console error: ${message.text().slice(0, 600)}`);
      });
      page.on('pageerror', (err) => console.error(`console page error: ${err.message}`));
      return { context, page };
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
      await relay.stop();
      await model?.close();
    },
  };
}

/**
 * The first sign-in of an account with a one-time password, through the embedded provider's own pages: the
 * console sends the browser to /auth/login, the provider asks for the password and then for a new one.
 */
export async function firstSignIn(
  page: Page,
  url: string,
  username: string,
  oneTime: string,
  chosen: string,
) {
  await page.goto(`${url}/`);
  // No session: the console hands the browser to the sign-in, which lands on the provider's own page.
  await page.waitForURL(/\/oidc\/interaction\//);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(oneTime);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Current password').fill(oneTime);
  await page.getByLabel('New password', { exact: true }).fill(chosen);
  await page.getByLabel('New password again').fill(chosen);
  await page.getByRole('button', { name: 'Change password and sign in' }).click();
  await until(() => textOf(page.getByTestId('who'))).toContain(username);
}

export interface HostProcess {
  name: string;
  /** The host's working directory; the operator's state is in `.dropops/` below it. */
  dir: string;
  ledgerDir: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * What a person does with the panel's command line on a server: runs it there (here: in a directory of its
 * own on this machine), then starts `dropops-operator run` next to it.
 */
export async function enrollAndRun(name: string, enrollCommand: string): Promise<HostProcess> {
  const work = tempDir(`dropops-e2e-${name}-`);
  const dir = realpathSync(work.path);
  const words = enrollCommand.trim().split(/\s+/);
  if (words[0] !== 'npx' || words[1] !== 'dropops-operator' || words[2] !== 'enroll')
    throw new Error(`unexpected enroll command line: ${enrollCommand}`);
  const enrolled = await exec(bin('dropops-operator'), words.slice(2), { cwd: dir });
  if (enrolled.code !== 0) throw new Error(`enroll failed: ${enrolled.stderr}`);
  const child = spawn(bin('dropops-operator'), ['run'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name,
    dir,
    ledgerDir: join(dir, '.dropops', 'data', 'ledger'),
    child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      work.remove();
    },
  };
}

/** `git log` of one file in a host's Ledger Mirror, with stock git. */
export async function ledgerLog(host: HostProcess, file: string): Promise<string> {
  const result = await exec('git', ['--git-dir', host.ledgerDir, 'log', '--format=%H %s%n%b', '--', file]);
  if (result.code !== 0) throw new Error(`git log failed: ${result.stderr}`);
  return result.stdout;
}

export async function ledgerShow(host: HostProcess, file: string): Promise<string> {
  const result = await exec('git', ['--git-dir', host.ledgerDir, 'show', `HEAD:${file}`]);
  if (result.code !== 0) throw new Error(`git show failed: ${result.stderr}`);
  return result.stdout;
}
