import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '@dropops/appliance';
import type { ExecOutcome } from '../../appliance/src/executions/service.ts';
import { tempDir } from '../helpers.ts';
import { eventually } from '../support/appliance.ts';
import {
  hasPrivateServices,
  startPrivatePostgres,
  type PrivateService,
} from '../support/private-services.ts';
import { addOperator, runsInVault, type TestOperator } from '../jobs/support.ts';
import { startWatchedRelay, type WatchedRelay } from './support.ts';

// The relay as its own process on a PostgreSQL of this suite's own, which the test stops and starts again.
describe.runIf(hasPrivateServices())('PostgreSQL going away under a running relay, and coming back', () => {
  const work = tempDir('dropops-pg-outage-');
  let pg: PrivateService;
  let relay: WatchedRelay;
  let operator: TestOperator;
  const issued: string[] = [];

  const exec = async (command: string, approve = false) => {
    const outcome = await relay.request('POST', `/api/operators/${operator.id}/exec`, { command, approve });
    if (outcome.kind === 'ok') issued.push((outcome.body as ExecOutcome).executionId);
    return outcome;
  };

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    // Sweeps every half second, so the job queue meets the outage too.
    relay = await startWatchedRelay(join(work.path, 'relay'), pg.url, {
      DROPOPS_SWEEP_INTERVAL_MS: '500',
      REDIS_URL: '',
    });
    operator = await addOperator(new AdminClient(relay.dataDir, relay.url), relay, work.path, 'pg-1');
    await operator.start();
  }, 180_000);

  afterAll(async () => {
    await operator?.stop();
    if (relay?.alive()) await relay.stop();
    await pg?.remove();
    work.remove();
  });

  it('runs commands before the outage', async () => {
    const outcome = await exec('echo before');
    expect(outcome.kind).toBe('ok');
    expect((outcome as { body: ExecOutcome }).body.result.exitCode).toBe(0);
  });

  it('reports not ready naming the database, and answers requests with a typed 503', async () => {
    await pg.stop();
    const probe = await eventually(
      async () => {
        const answer = await relay.readyz();
        return answer.status === 503 && answer;
      },
      '/readyz to turn 503',
      30_000,
    );
    expect(probe.body).toMatchObject({ ready: false, reason: 'not answering: database' });
    expect(probe.body.checks).toEqual({ database: 'failing' });

    for (const outcome of [
      await relay.request('GET', '/api/operators'),
      await exec('touch during-outage', true),
    ]) {
      expect(outcome).toMatchObject({ kind: 'refused', status: 503 });
      const { error } = outcome as { error: { code: string; message: string } };
      expect(error.code).toBe('DATABASE_UNAVAILABLE');
      expect(error.message).toBe("the relay's database (PostgreSQL) does not answer; retry when it is back.");
    }
    // Refused before anything left the relay: the host ran nothing.
    expect(existsSync(join(operator.cwd, 'during-outage'))).toBe(false);
    // The sweeps failed against the missing database too (logged), and the process is still serving.
    await eventually(() => relay.log().includes('"task":"request-nonces"'), 'a clean-up sweep to fail');
    expect(relay.alive()).toBe(true);
    expect((await relay.readyz()).status).toBe(503);
  }, 120_000);

  it('is ready again and runs commands once PostgreSQL is back, without a restart', async () => {
    await pg.start();
    const back = Date.now();
    await eventually(async () => (await relay.readyz()).status === 200, '/readyz to turn 200', 60_000);
    console.log(`ready again ${Date.now() - back} ms after PostgreSQL answered`);
    const outcome = await exec('echo after');
    expect(outcome.kind).toBe('ok');
    expect((outcome as { body: ExecOutcome }).body.result.exitCode).toBe(0);
    const approved = await exec('touch after-outage', true);
    expect(approved.kind).toBe('ok');
    expect(existsSync(join(operator.cwd, 'after-outage'))).toBe(true);
    const listed = await relay.request('GET', '/api/operators');
    expect(listed.kind).toBe('ok');
    expect(relay.alive()).toBe(true);
  }, 120_000);

  it('stops cleanly when asked, and each run is once in the host vault', async () => {
    await operator.stop();
    const exited = new Promise<number | null>((resolve) => relay.child.once('exit', resolve));
    relay.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const runs = runsInVault(operator.stateDir);
    expect(issued).toHaveLength(3);
    for (const id of issued) expect(runs.get(id)).toBe(1);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
  }, 120_000);
});
