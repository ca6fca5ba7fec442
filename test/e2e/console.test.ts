// The console end to end, in headless Chromium: sign in through the embedded OIDC provider, create operator
// slots in the panel, enroll and run real operators from the command line it shows, ask a scripted model,
// watch a read-only command run at once and a change for two hosts wait for one approval, then run on both in
// order and land in each host's Ledger Mirror, with the transmission monitor showing what stayed local. Then
// the negatives: deny, stop, a key revoked mid-conversation, a viewer who cannot approve.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { eventually } from '../support/appliance.ts';
import {
  enrollAndRun,
  firstSignIn,
  textOf,
  until,
  ledgerLog,
  ledgerShow,
  startE2E,
  type E2E,
  type HostProcess,
} from './harness.ts';
import { screenshot } from './screenshots.ts';
import { BANNER, MOTD, MOTD_COMMAND, SCRIPT } from './script.ts';

const ADMIN_PASSWORD = 'correct horse battery staple';
const VIEWER_PASSWORD = 'purple elephant dancing slowly';

describe('the console end to end (headless Chromium)', () => {
  let e2e: E2E;
  let page: Page;
  const hosts: HostProcess[] = [];
  let conversationUrl: string;

  beforeAll(async () => {
    e2e = await startE2E(SCRIPT);
    ({ page } = await e2e.person());
  });
  afterAll(async () => {
    for (const host of hosts) await host.stop();
    await e2e?.close();
  });

  // What the page showed when a step failed, to read in the test output.
  beforeEach(() =>
    onTestFailed(async () => console.error(`page at ${page.url()}:\n${await page.innerText('body')}`)),
  );

  const nav = (name: string) => page.getByRole('navigation').getByRole('link', { name });
  const row = (name: string) => page.getByTestId(`operator-${name}`);

  it('signs in through the embedded provider, which makes the admin replace the one-time password', async () => {
    // The console itself is served by the relay, under its strict CSP.
    const served = await page.request.get(`${e2e.relay.url}/conversations`);
    expect(served.headers()['content-type']).toContain('text/html');
    expect(served.headers()['content-security-policy']).toContain("script-src 'self'");
    await firstSignIn(page, e2e.relay.url, 'admin', e2e.relay.signIn.firstAdminPassword!, ADMIN_PASSWORD);
    await until(() => textOf(page.getByTestId('who'))).toContain('admin · default · admin');
  });

  it('creates two operator slots, shows each key once with its enroll command, and sees real operators connect', async () => {
    await nav('Operators').click();
    for (const name of ['web-1', 'web-2']) {
      await page.getByLabel('New operator slot').fill(name);
      await page.getByRole('button', { name: 'Create slot' }).click();
      const command = (await page.getByTestId('enroll-command').textContent())!;
      expect(command).toMatch(
        /^npx dropops-operator enroll --relay https:\/\/\S+ --api-key dok_\S+ --ca-pin sha256\/\S+$/,
      );
      if (name === 'web-2') await screenshot(page, 'operator-panel-new-key');
      hosts.push(await enrollAndRun(name, command));
      await page.getByRole('button', { name: 'I have saved it' }).click();
      await until(() => page.getByTestId('issued-key').count()).toBe(0);
      await until(() => textOf(row(name).getByTestId('operator-status'))).toBe('connected');
      // Enrolled: the host fingerprint and the certificate's expiry are shown.
      await until(() => textOf(row(name))).not.toContain('not enrolled');
      await until(() => textOf(row(name).getByTestId('operator-key'))).toBe('active');
    }
    await screenshot(page, 'operator-panel');
  });

  it('runs a read-only command at once, then one approval runs a change on both hosts in order', async () => {
    await nav('Conversations').click();
    await page.getByRole('button', { name: 'Start a conversation' }).click();
    await page.waitForURL(/\/conversations\/[0-9a-f-]{36}$/);
    conversationUrl = page.url();
    // The boxes follow the relay: each turns checked once the binding is confirmed.
    for (const name of ['web-1', 'web-2']) {
      await page.getByLabel(`bind ${name}`).click();
      await until(() => page.getByLabel(`bind ${name}`).isChecked()).toBe(true);
    }
    await page.getByLabel('Ask the model').fill('How is the disk on the web servers?');
    await page.getByRole('button', { name: 'Send' }).click();

    // The read-only look ran on both hosts without anyone approving it.
    const executions = page.getByTestId('execution');
    await until(() => executions.filter({ hasText: 'web-1' }).filter({ hasText: 'auto' }).count()).toBe(1);
    await until(() => executions.filter({ hasText: 'web-2' }).filter({ hasText: 'auto' }).count()).toBe(1);
    await until(() => textOf(page.getByTestId('tool-activity').first())).toContain('run_command');

    // The change waits: one dialog for both hosts, with everything the approver needs.
    const dialog = page.getByTestId('approval-dialog');
    await until(() => dialog.isVisible()).toBe(true);
    await until(() => textOf(dialog.getByTestId('approval-command'))).toBe(MOTD_COMMAND);
    await until(() => textOf(dialog)).toContain('Writes a one-line message of the day');
    await until(() => textOf(dialog)).toContain('medium');
    await until(() => dialog.getByTestId('approval-hostname').count()).toBe(2);
    await until(() => dialog.getByRole('row', { name: /web-1/ }).isVisible()).toBe(true);
    await until(() => dialog.getByRole('row', { name: /web-2/ }).isVisible()).toBe(true);
    expect(existsSync(join(hosts[0]!.dir, MOTD))).toBe(false);
    await screenshot(page, 'approval-dialog');
    await dialog.getByRole('button', { name: 'Approve for 2 hosts' }).click();
    await until(() => dialog.count()).toBe(0);

    const approved = executions.filter({ hasText: 'approved' });
    await until(() => approved.count()).toBe(2);
    await until(() => textOf(approved.nth(0))).toContain('web-1');
    await until(() => textOf(approved.nth(1))).toContain('web-2');
    await until(() => textOf(approved.nth(1))).toContain('succeeded');
    await until(() => textOf(page.getByTestId('assistant').last())).toContain('written on both hosts');
    await until(() => textOf(page.getByTestId('conversation-state'))).toBe('Idle');
  });

  it('records the change in each host’s Ledger Mirror, which stock git reads', async () => {
    expect(hosts).toHaveLength(2);
    for (const host of hosts) {
      expect(readFileSync(join(host.dir, MOTD), 'utf8')).toBe('managed by DropOps\n');
      const path = join(host.dir, MOTD).slice(1);
      const log = await eventually(async () => {
        const text = await ledgerLog(host, path).catch(() => '');
        return text.includes('Execution-Id') && text;
      }, `the ledger commit on ${host.name}`);
      expect(log).toContain('Approved-By');
      expect(await ledgerShow(host, path)).toBe('managed by DropOps\n');
    }
  });

  it('shows in the transmission monitor the bytes that stayed on the hosts', async () => {
    const monitor = page.getByTestId('transmission-monitor');
    // Two read-only looks and two approved writes.
    await until(() => monitor.getByTestId('monitor-row').count()).toBe(4);
    await until(() => textOf(monitor.getByTestId('bytes-kept-local'))).not.toBe('0 B');
    // The approved runs' output never left the hosts, so part of all output stayed local.
    await until(() => textOf(monitor.getByTestId('share-kept-local'))).toMatch(/^[1-9]\d*(\.\d)? %$/);
    await until(() => monitor.getByTestId('share-chart').locator('rect.kept').count()).toBe(4);
    await screenshot(page, 'conversation');
    await screenshot(page, 'transmission-monitor', monitor);
  });

  it('deny: nothing runs, and the model waits for the user', async () => {
    await page.getByLabel('Ask the model').fill('Put up a banner for tonight');
    await page.getByRole('button', { name: 'Send' }).click();
    const dialog = page.getByTestId('approval-dialog');
    await until(() => dialog.isVisible()).toBe(true);
    await dialog.getByLabel(/Reason/).fill('not tonight');
    await dialog.getByRole('button', { name: 'Deny' }).click();
    await until(() => textOf(page.getByTestId('proposal-card').last())).toContain('denied');
    await until(() => textOf(page.getByTestId('conversation-state'))).toBe('Idle');
    expect(existsSync(join(hosts[0]!.dir, BANNER))).toBe(false);
  });

  it('stop: halts a model that hangs', async () => {
    await page.getByLabel('Ask the model').fill('Think about this forever');
    await page.getByRole('button', { name: 'Send' }).click();
    await until(() => textOf(page.getByTestId('conversation-state'))).toBe('Model is answering');
    await page.getByRole('button', { name: 'Stop' }).click();
    await until(() => textOf(page.getByTestId('conversation-state'))).toBe('Idle');
    await until(() => page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true); // empty box, nothing pending
  });

  it('a viewer sees a proposal but cannot approve it; the relay refuses it too', async () => {
    const created = await page.evaluate(async () => {
      const session = await (await fetch('/api/session')).json();
      const response = await fetch('/api/org/users', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
        body: JSON.stringify({ username: 'vera', roles: ['viewer'] }),
      });
      return { status: response.status, body: await response.json() };
    });
    expect(created.status).toBe(201);
    const viewer = await e2e.person();
    await firstSignIn(viewer.page, e2e.relay.url, 'vera', created.body.oneTimePassword, VIEWER_PASSWORD);
    await until(() => textOf(viewer.page.getByTestId('who'))).toContain('viewer');

    // The admin asks for another change; the viewer watches the same conversation.
    await page.getByLabel('Ask the model').fill('Put up a banner after all');
    await page.getByRole('button', { name: 'Send' }).click();
    const adminDialog = page.getByTestId('approval-dialog');
    await until(() => adminDialog.isVisible()).toBe(true);
    await viewer.page.goto(conversationUrl);
    const dialog = viewer.page.getByTestId('approval-dialog');
    await until(() => dialog.isVisible()).toBe(true);
    await until(() => dialog.getByTestId('cannot-approve').isVisible()).toBe(true);
    await until(() => dialog.getByRole('button', { name: /Approve/ }).isDisabled()).toBe(true);
    await until(() => dialog.getByRole('button', { name: 'Deny' }).isDisabled()).toBe(true);
    const proposalId = await page.evaluate(async (url) => {
      const id = url.split('/').pop();
      const { proposals } = await (await fetch(`/api/conversations/${id}/proposals`)).json();
      return proposals.find((p: { state: string }) => p.state === 'pending').id as string;
    }, conversationUrl);
    const refused = await viewer.page.evaluate(async (id) => {
      const session = await (await fetch('/api/session')).json();
      const response = await fetch(`/api/proposals/${id}/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
        body: '{}',
      });
      return { status: response.status, body: await response.json() };
    }, proposalId);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
    await adminDialog.getByRole('button', { name: 'Deny' }).click();
    await until(() => textOf(page.getByTestId('conversation-state'))).toBe('Idle');
    expect(existsSync(join(hosts[0]!.dir, BANNER))).toBe(false);
  });

  it('a key revoked mid-conversation cuts its operator off, and commands for it are refused', async () => {
    await nav('Operators').click();
    await row('web-2').getByRole('button', { name: 'Revoke key' }).click();
    await until(() => textOf(row('web-2').getByTestId('operator-key'))).toBe('revoked');
    await until(() => textOf(row('web-2').getByTestId('operator-status'))).toBe('offline');
    // The operator learns it is revoked and exits instead of retrying.
    await hosts[1]!.exited;
    expect(hosts[1]!.output()).toMatch(/CERT_REVOKED|API_KEY_REVOKED/);

    await page.goto(conversationUrl);
    // The transcript so far is back (the relay keeps the conversation's events), web-2 still bound.
    await until(() => textOf(page.getByTestId('transcript'))).toContain('written on both hosts');
    await until(() => textOf(page.getByTestId('command-targets'))).toContain('web-2');
    const executionsBefore = await page.getByTestId('execution').count();
    await page.getByLabel('Run a command directly').fill('uname -a');
    await page.getByRole('button', { name: 'Run' }).click();
    const fresh = page.getByTestId('execution').nth(executionsBefore);
    await until(() => page.getByTestId('execution').count()).toBe(executionsBefore + 2);
    await until(() => textOf(fresh)).toContain('web-1');
    await until(() => textOf(fresh)).toContain('succeeded');
    const cutOff = page.getByTestId('execution').nth(executionsBefore + 1);
    await until(() => textOf(cutOff)).toContain('web-2');
    await until(() => textOf(cutOff)).toContain('refused');
  });

  it('shows the audit trail, filters it, exports JSON Lines, and fetches a host’s own history live', async () => {
    await nav('Audit').click();
    await until(() => page.getByTestId('audit-row').first().isVisible()).toBe(true);
    await page.getByLabel('Action').selectOption('proposal.approve');
    await page.getByRole('button', { name: 'Filter' }).click();
    await until(() => page.getByTestId('audit-row').count()).toBe(1);
    await until(() => textOf(page.getByTestId('audit-row'))).toContain('admin');
    const exported = await page.evaluate(async () => (await fetch('/api/org/audit/export')).text());
    const lines = exported
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { action: string });
    expect(lines.map((l) => l.action)).toEqual(
      expect.arrayContaining(['operator.create', 'proposal.approve', 'proposal.deny', 'operator.revoke-key']),
    );
    await page.getByLabel('Action').selectOption('');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('select[name="operator"]').selectOption({ label: 'web-1' });
    await page.getByRole('button', { name: 'Fetch from host' }).click();
    await until(() => page.getByTestId('host-history-row').first().isVisible()).toBe(true);
    await until(() => textOf(page.getByTestId('host-history'))).toContain('CMD_EXEC');
    await screenshot(page, 'audit');
  });
});

describe('the console without a model (headless Chromium)', () => {
  let e2e: E2E;
  beforeAll(async () => {
    e2e = await startE2E(null);
  });
  afterAll(async () => e2e?.close());

  it('says plainly that no model is connected and offers the command box', { timeout: 120_000 }, async () => {
    const { page } = await e2e.person();
    await firstSignIn(page, e2e.relay.url, 'admin', e2e.relay.signIn.firstAdminPassword!, ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Start a conversation' }).click();
    await until(() => textOf(page.getByTestId('no-model'))).toContain('No model is connected');
    await until(() => page.getByLabel('Ask the model').count()).toBe(0);
    await until(() => page.getByLabel('Run a command directly').isVisible()).toBe(true);
    await screenshot(page, 'conversation-no-model');
  });
});
