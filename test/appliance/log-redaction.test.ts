import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '@dropops/appliance';
import { caFiles } from '@dropops/pki';
import { jsonRequest } from '@dropops/protocol/json-request';
import { stateFiles } from '@dropops/operator';
import { applianceLogger, CENSOR } from '../../appliance/src/observability/logger.ts';
import { metricsTokenPath } from '../../appliance/src/observability/routes.ts';
import { bin, tempDir } from '../helpers.ts';
import { capturedLogger, eventually } from '../support/appliance.ts';
import { httpsGet, startOperator, type RunningOperator } from '../support/operations.ts';

const host = 'a7'.repeat(32);

describe('the appliance logger', () => {
  it('redacts secrets by field name at the top and nested, and keeps everything else', () => {
    const { logger, lines } = capturedLogger('redaction');
    const log = applianceLogger('debug', logger);
    log.warn(
      {
        authorization: 'Bearer top-secret-1',
        req: {
          headers: { authorization: 'Bearer nested-secret-2', cookie: 'sid=cookie-secret-3', host: 'x' },
        },
        request: { body: { apiKey: 'dok_x_api-secret-4', fingerprint: 'kept' } },
        err: Object.assign(new Error('boom'), { parameters: ['param-secret-5'] }),
        privateKeyPem: '-----BEGIN PRIVATE KEY-----pem-secret-6',
        config: { databaseUrl: 'postgres://u:db-secret-7@h/d', port: 1 },
        password: 'password-secret-8',
      },
      'a line with secrets in it',
    );
    log.child({ token: 'child-secret-9' }).info('a child line');
    const text = JSON.stringify(lines);
    for (let i = 1; i <= 9; i++) expect(text).not.toMatch(new RegExp(`secret-${i}`));
    expect(lines[0]).toMatchObject({
      authorization: CENSOR,
      req: { headers: { authorization: CENSOR, cookie: CENSOR, host: 'x' } },
      request: { body: CENSOR },
      config: { databaseUrl: CENSOR, port: 1 },
      msg: 'a line with secrets in it',
    });
    expect(lines[1]).toMatchObject({ token: CENSOR, msg: 'a child line' });
  });
});

/** The real `dropops-appliance start` process; its stderr is the log stream an operator of the appliance sees. */
describe('a started appliance, read from its own log stream', () => {
  const work = tempDir();
  const dataDir = join(work.path, 'data');
  let child: ChildProcess;
  let stdout = '';
  let stderr = '';
  let exited: Promise<number | null>;
  let admin: AdminClient;
  let operator: RunningOperator | undefined;
  const secrets: string[] = [];

  beforeAll(async () => {
    child = spawn(bin('dropops-appliance'), ['start', '--data-dir', dataDir, '--port', '0'], {
      // The embedded database, whatever the test run points DATABASE_URL at.
      env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', DROPOPS_LOG_LEVEL: 'debug' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (c: Buffer) => (stdout += c));
    child.stderr!.on('data', (c: Buffer) => (stderr += c));
    exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    await eventually(
      () => stdout.includes('DropOps appliance running') && existsSync(join(dataDir, 'relay.json')),
      'the appliance to start',
      90_000,
    );
    admin = new AdminClient(dataDir);
  });
  afterAll(async () => {
    await operator?.stop().catch(() => {});
    if (child.exitCode === null) child.kill('SIGKILL');
    work.remove();
  });

  it('writes JSON lines without any secret through enrollment, admin calls and refusals', async () => {
    operator = await startOperator({
      admin,
      enrollUrl: admin.relay.url,
      caPin: admin.relay.caPin,
      work: work.path,
      name: 'logged',
      fingerprint: host,
    });
    const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    const metricsToken = readFileSync(metricsTokenPath(dataDir), 'utf8').trim();
    const rootCa = readFileSync(caFiles(join(dataDir, 'pki')).rootCert, 'utf8');
    const keyBody = readFileSync(stateFiles(operator.dir).key, 'utf8').split('\n')[1]!;
    // A fresh key for a second slot, used right and wrong; and refusals carrying secret-looking values.
    const { apiKey } = await admin.call<{ apiKey: string }>('POST', '/api/operators', {
      org: 'acme',
      name: 'second',
    });
    const wrongKey = apiKey.slice(0, -8) + 'AAAAAAAA';
    const wrongToken = 'wrong-admin-token-0123456789abcdefghij';
    // The key's secret part is its last 43 characters (base64url, which may itself hold a `_`).
    secrets.push(adminToken, metricsToken, apiKey, apiKey.slice(-43), wrongKey, wrongToken, keyBody);

    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      jsonRequest(new URL(path, admin.relay.url), { method: 'POST', ca: rootCa, headers }, body);
    const badEnroll = await post('/api/enroll', {
      apiKey: wrongKey,
      csr: '-----BEGIN CERTIFICATE REQUEST-----\nnot really\n-----END CERTIFICATE REQUEST-----\n',
      fingerprint: host,
      ts: Date.now(),
      nonce: 'n'.repeat(22),
    });
    expect(badEnroll).toMatchObject({ kind: 'refused' });
    const badAdmin = await post(
      '/api/operators',
      { org: 'acme', name: 'x' },
      { authorization: `Bearer ${wrongToken}` },
    );
    expect(badAdmin).toMatchObject({ kind: 'refused', status: 401 });
    const scraped = await httpsGet(admin.relay.url, '/metrics', rootCa, {
      authorization: `Bearer ${metricsToken}`,
    });
    expect(scraped.status).toBe(200);
    await admin.call('POST', `/api/operators/${operator.operatorId}/ping`);

    await eventually(() => stderr.includes('"code":"UNAUTHENTICATED"'), 'the refused admin call in the log');
    const lines = stderr.split('\n').filter((l) => l.startsWith('{'));
    const parsed = lines.map((l) => JSON.parse(l) as { level: number; time: number; msg: string });
    expect(parsed.length).toBeGreaterThan(5);
    for (const line of parsed)
      expect(line).toMatchObject({ level: expect.any(Number), msg: expect.any(String) });
    expect(parsed.some((l) => l.msg === 'operator connected')).toBe(true);
    for (const secret of secrets) {
      expect(stderr).not.toContain(secret);
      expect(stdout).not.toContain(secret);
    }
  });

  it('drains on SIGTERM: the operator is told to move, and the process exits 0', async () => {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('SIGTERM: draining for up to 30 s');
    expect(stderr).toContain('"msg":"drained: nothing left in flight"');
    expect(operator!.logs.some((l) => l.msg === 'leaving the draining relay')).toBe(true);
    expect(operator!.ended()).toBeNull();
    for (const secret of secrets) expect(stderr).not.toContain(secret);
  });
});
