import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecOutcome } from '../../appliance/src/executions/service.ts';
import { metricsTokenPath } from '../../appliance/src/observability/routes.ts';
import { tempDir } from '../helpers.ts';
import { eventually, startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { httpsGet, startOperator, type RunningOperator } from '../support/operations.ts';
import { backends, hasRedis } from '../support/services.ts';

const host = 'e5'.repeat(32);

/** The value of one sample in Prometheus text, e.g. sample(text, 'dropops_executions_total{mode="auto",outcome="succeeded"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe.each(backends())('operations endpoints on %s', (backend) => {
  let relay: TestAppliance;
  let work: ReturnType<typeof tempDir>;
  let operator: RunningOperator;
  let metricsToken: string;
  const get = (path: string, headers?: Record<string, string>) =>
    httpsGet(relay.url, path, relay.ca.rootCertPem, headers);
  const scrape = () => get('/metrics', { authorization: `Bearer ${metricsToken}` });
  const exec = (command: string, approve = false) =>
    relay.admin.call<ExecOutcome>(
      'POST',
      `/api/operators/${operator.operatorId}/exec`,
      { command, approve },
      0,
    );

  beforeAll(async () => {
    relay = await startTestAppliance(backend);
    work = tempDir();
    writeFileSync(join(work.path, 'notes.txt'), 'hello\n');
    metricsToken = readFileSync(metricsTokenPath(relay.dataDir), 'utf8').trim();
    operator = await startOperator({
      admin: relay.admin,
      enrollUrl: relay.url,
      caPin: relay.caPin,
      work: work.path,
      name: 'metered-web',
      fingerprint: host,
    });
  });
  afterAll(async () => {
    await operator?.stop();
    await relay?.stop();
    work?.remove();
  });

  it('answers /livez, keeps /healthz, and reports ready with the database answering', async () => {
    expect(JSON.parse((await get('/livez')).text)).toEqual({ live: true });
    const health = await get('/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toEqual({ ok: true });
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toEqual({ ready: true, checks: { database: 'ok' } });
  });

  it('serves /metrics only with the metrics token, not the admin token', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${relay.adminToken}` },
      { authorization: 'Bearer wrong' },
      { authorization: metricsToken },
    ];
    for (const headers of attempts) {
      const refused = await get('/metrics', headers);
      expect(refused.status).toBe(401);
      expect(JSON.parse(refused.text).error.code).toBe('UNAUTHENTICATED');
    }
    const scraped = await scrape();
    expect(scraped.status).toBe(200);
    expect(scraped.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(scraped.text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(scraped.text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
  });

  it('counts the connected operator, its runs by mode and outcome, approvals, HTTP routes and socket events', async () => {
    expect((await exec('cat notes.txt')).result.exitCode).toBe(0);
    expect((await exec('cat missing-file')).result.exitCode).not.toBe(0);
    expect((await exec('touch approved-file', true)).mode).toBe('approved');
    await expect(exec('touch unapproved-file')).rejects.toMatchObject({ code: 'APPROVAL_REQUIRED' });

    // The result is counted when the relay receives it; the HTTP answer may leave a moment earlier.
    const text = await eventually(async () => {
      const t = (await scrape()).text;
      return sample(t, 'dropops_executions_total{mode="approved",outcome="succeeded"}') === 1 && t;
    }, 'the approved run to be counted');
    expect(sample(text, 'dropops_operators_connected')).toBe(1);
    expect(sample(text, 'dropops_operator_connects_total')).toBe(1);
    expect(sample(text, 'dropops_executions_total{mode="auto",outcome="succeeded"}')).toBe(1);
    expect(sample(text, 'dropops_executions_total{mode="auto",outcome="failed"}')).toBe(1);
    expect(sample(text, 'dropops_executions_sent_total{mode="auto"}')).toBe(3);
    expect(sample(text, 'dropops_executions_sent_total{mode="approved"}')).toBe(1);
    expect(sample(text, 'dropops_approval_tokens_signed_total')).toBe(1);
    expect(sample(text, 'dropops_socket_events_total{direction="in",event="operator:result"}')).toBe(3);
    expect(sample(text, 'dropops_socket_events_total{direction="out",event="relay:request"}')).toBe(4);
    const execRoute = 'method="POST",route="/api/operators/:ref/exec"';
    expect(sample(text, `dropops_http_requests_total{${execRoute},status="200"}`)).toBe(3);
    expect(sample(text, `dropops_http_requests_total{${execRoute},status="403"}`)).toBe(1);
    expect(sample(text, `dropops_http_request_duration_seconds_count{${execRoute},status="200"}`)).toBe(3);
    expect(
      sample(text, `dropops_http_request_duration_seconds_bucket{le="+Inf",${execRoute},status="200"}`),
    ).toBe(3);
    // Nothing that names a host or a slot reaches the scrape.
    for (const secretish of ['metered-web', 'acme', operator.operatorId, host])
      expect(text).not.toContain(secretish);
  });

  it('counts an unmatched path as one series, without the path', async () => {
    await get('/api/operators/metered-web/no-such-verb');
    const text = (await scrape()).text;
    expect(text).toMatch(/dropops_http_requests_total\{method="GET",route="unmatched",status="400"\} \d/);
    expect(text).not.toContain('no-such-verb');
  });

  it('reports not ready while draining, waits for the run in flight, and tells the operator to move', async () => {
    const gate = join(work.path, 'gate');
    const running = exec(`while [ ! -e ${gate} ]; do sleep 0.05; done; echo through`, true);
    await eventually(
      async () => (await relay.db.sql`SELECT 1 FROM executions WHERE state = 'running'`).length === 1,
      'the gated run to start',
    );
    const drained = relay.drain(60_000);
    const notReady = await eventually(async () => {
      const answer = await get('/readyz');
      return answer.status === 503 && answer;
    }, 'readyz to turn 503');
    expect(JSON.parse(notReady.text)).toMatchObject({
      ready: false,
      reason: expect.stringContaining('draining'),
      checks: { database: 'skipped' },
    });
    // Told at once, the operator stays until its run has reported.
    await eventually(
      () => operator.logs.some((l) => l.msg.startsWith('the relay is draining')),
      'the operator to hear the drain notice',
    );
    expect(relay.hub.isConnected(operator.operatorId)).toBe(true);
    writeFileSync(gate, '');
    const outcome = await running;
    expect(outcome.result.exitCode).toBe(0);
    expect(outcome.modelOutput?.text).toBe('through\n');
    const report = await drained;
    expect(report).toEqual({
      clean: true,
      operatorsTold: 1,
      left: { operators: 0, requests: 0, runs: 0, handlers: 0 },
    });
    expect(operator.logs.some((l) => l.msg === 'leaving the draining relay')).toBe(true);
    expect(operator.logs.some((l) => l.msg.includes('asked this operator to stop'))).toBe(false);
    expect(operator.ended()).toBeNull();
    await expect(get('/livez')).rejects.toThrow();
  });
});

describe.each(backends())('readiness when a dependency is gone, on %s', (backend) => {
  let relay: TestAppliance;
  afterAll(async () => relay?.stop());

  it('answers 503 naming the database once its connection is closed', async () => {
    relay = await startTestAppliance(backend);
    const get = (path: string) => httpsGet(relay.url, path, relay.ca.rootCertPem);
    expect((await get('/readyz')).status).toBe(200);
    await relay.db.sql.end();
    const answer = await get('/readyz');
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.text)).toEqual({
      ready: false,
      reason: 'not answering: database',
      checks: { database: 'failing' },
    });
    // Still alive: an orchestrator must not restart it for a database outage.
    expect((await get('/livez')).status).toBe(200);
    expect(relay.logs.filter((l) => l.code === 'NOT_READY')).toHaveLength(1);
  });
});

describe.skipIf(!hasRedis())('readiness with Redis configured', () => {
  let relay: TestAppliance;
  afterAll(async () => relay?.stop());

  it('asks Redis as well as the database', async () => {
    relay = await startTestAppliance('pglite', { redisUrl: process.env.REDIS_URL });
    const answer = await httpsGet(relay.url, '/readyz', relay.ca.rootCertPem);
    expect(JSON.parse(answer.text)).toEqual({ ready: true, checks: { database: 'ok', redis: 'ok' } });
  });
});
