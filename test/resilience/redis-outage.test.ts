import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '@dropops/appliance';
import { caFiles } from '@dropops/pki';
import { queueNameFor } from '../../appliance/src/jobs/setup.ts';
import { approvalTokensSigned } from '../support/operations.ts';
import type { BatchView, OperatorSlot } from '@dropops/protocol';
import type { ExecOutcome } from '../../appliance/src/executions/service.ts';
import { tempDir } from '../helpers.ts';
import { eventually } from '../support/appliance.ts';
import {
  hasPrivateServices,
  startPrivatePostgres,
  startPrivateRedis,
  type PrivateService,
} from '../support/private-services.ts';
import { addOperator, batchEnded, runsInVault, type TestOperator } from '../jobs/support.ts';
import { startWatchedRelay, type WatchedRelay } from './support.ts';

const COMMAND = 'sleep 4; echo once >> ran.txt';

// Two relay processes sharing a PostgreSQL and a Redis of this suite's own; op-a and op-c are connected to
// A, op-b to B. Redis (without persistence) stops in the middle of a batch over both, and comes back empty.
describe.runIf(hasPrivateServices())('Redis going away under two relays, and coming back empty', () => {
  const work = tempDir('dropops-redis-outage-');
  const dataDir = join(work.path, 'appliance');
  let pg: PrivateService;
  let redis: PrivateService;
  let relayA: WatchedRelay;
  let relayB: WatchedRelay;
  let viaA: AdminClient;
  const operators: TestOperator[] = [];
  const issued: { operator: TestOperator; id: string }[] = [];
  let approvedDuringOutage: BatchView;

  const exec = async (operator: TestOperator) => {
    const run = await viaA.call<ExecOutcome>('POST', `/api/operators/${operator.id}/exec`, {
      command: 'echo across',
    });
    issued.push({ operator, id: run.executionId });
    return run;
  };

  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
    const env = { REDIS_URL: redis.url, DROPOPS_SWEEP_INTERVAL_MS: '1000' };
    relayA = await startWatchedRelay(dataDir, pg.url, env);
    relayB = await startWatchedRelay(dataDir, pg.url, env);
    viaA = new AdminClient(dataDir, relayA.url);
    for (const [name, relay] of [
      ['op-a', relayA],
      ['op-b', relayB],
      ['op-c', relayA],
    ] as const) {
      const operator = await addOperator(new AdminClient(dataDir, relay.url), relay, work.path, name);
      operators.push(operator);
      await operator.start();
    }
  }, 240_000);

  afterAll(async () => {
    for (const operator of operators) await operator.stop();
    for (const relay of [relayA, relayB]) if (relay?.alive()) await relay.stop();
    await Promise.all([pg?.remove(), redis?.remove()]);
    work.remove();
  });

  it('runs a command issued on A on the operator connected to B', async () => {
    const run = await exec(operators[1]!);
    expect(run.result.exitCode).toBe(0);
    expect(run.modelOutput?.text).toBe('across\n');
  });

  it('finishes a batch that was in flight when Redis went away, each step once', async () => {
    // op-a (on A), op-b (on B), op-c (on A): whichever relay runs it, a step after the first crosses replicas.
    const signedBefore = await Promise.all([relayA, relayB].map(approvalTokensSigned));
    const { batch } = await viaA.call<{ batch: BatchView }>('POST', '/api/batches', {
      operators: ['op-a', 'op-b', 'op-c'],
      command: COMMAND,
    });
    const db = postgres(pg.url, { max: 1, onnotice: () => {} });
    const stepState = async (position: number) =>
      (
        await db<{ state: string; running: boolean }[]>`
          SELECT s.state, e.state = 'running' AS running
          FROM batch_steps s LEFT JOIN executions e ON e.id = s.execution_id
          WHERE s.batch_id = ${batch.id} AND s.position = ${position}`
      )[0]!;
    try {
      await eventually(async () => (await stepState(0)).running, 'the first step to run on its host', 60_000);
      // The relay that runs the batch signs its steps' approval tokens.
      const signedAfter = await Promise.all([relayA, relayB].map(approvalTokensSigned));
      const runner = signedAfter[0]! > signedBefore[0]! ? 'A' : 'B';
      const crossing = runner === 'A' ? 1 : 2;
      console.log(`relay ${runner} runs the batch; step ${crossing} crosses to the other replica`);

      await redis.stop();
      for (const relay of [relayA, relayB]) {
        const probe = await eventually(
          async () => {
            const answer = await relay.readyz();
            return answer.status === 503 && answer;
          },
          '/readyz to turn 503',
          30_000,
        );
        expect(probe.body).toMatchObject({ ready: false, reason: 'not answering: redis' });
        expect(probe.body.checks).toMatchObject({ database: 'ok', redis: 'failing' });
      }
      // Redis stays away until the runner has tried to reach the other replica for a step.
      await eventually(
        async () => (await stepState(crossing)).state === 'sent',
        `step ${crossing} to be sent`,
        60_000,
      );
      // Longer than ioredis's 20 retries of a command queued while Redis is away (about 10 s): past that the
      // runner's request fails with REPLICAS_UNREACHABLE, which must not fail the step.
      await new Promise((r) => setTimeout(r, 15_000));
      // A batch approved now is kept in the database and answered at once, not left waiting on Redis.
      ({ batch: approvedDuringOutage } = await viaA.call<{ batch: BatchView }>('POST', '/api/batches', {
        operators: ['op-b'],
        command: 'echo queued >> queued.txt',
      }));
      expect(approvedDuringOutage.status).toBe('queued');
    } finally {
      await db.end();
    }
    await redis.start();
    const back = Date.now();
    for (const relay of [relayA, relayB])
      await eventually(async () => (await relay.readyz()).status === 200, '/readyz to turn 200', 60_000);
    console.log(`both relays ready again ${Date.now() - back} ms after Redis answered`);

    const ended = await batchEnded(viaA, batch.id, 180_000);
    console.log(`the batch ended ${Date.now() - back} ms after Redis answered`);
    expect(ended.status).toBe('succeeded');
    expect(ended.steps.map((s) => [s.operator, s.state, s.exitCode])).toEqual([
      ['acme/op-a', 'succeeded', 0],
      ['acme/op-b', 'succeeded', 0],
      ['acme/op-c', 'succeeded', 0],
    ]);
    for (const step of ended.steps)
      issued.push({ operator: operators.find((o) => o.id === step.operatorId)!, id: step.executionId! });
    for (const operator of operators)
      expect(readFileSync(join(operator.cwd, 'ran.txt'), 'utf8')).toBe('once\n');
  }, 300_000);

  it('queues again what the empty Redis lost: the batch approved meanwhile, and the sweeps', async () => {
    const ended = await batchEnded(viaA, approvedDuringOutage.id, 120_000);
    expect(ended.status).toBe('succeeded');
    issued.push({ operator: operators[1]!, id: ended.steps[0]!.executionId! });
    expect(readFileSync(join(operators[1]!.cwd, 'queued.txt'), 'utf8')).toBe('queued\n');
    const rootCert = readFileSync(caFiles(join(dataDir, 'pki')).rootCert, 'utf8');
    const queue = new Queue(queueNameFor(rootCert), { connection: { url: redis.url }, prefix: 'dropops' });
    try {
      const schedulers = (await queue.getJobSchedulers()).map((s) => s.key).sort();
      expect(schedulers).toEqual(['certificate-sweep', 'cleanup']);
    } finally {
      await queue.close();
    }
  }, 180_000);

  it('reaches the operator on B through A again once Redis is back', async () => {
    await eventually(
      async () => {
        const { operators: listed } = await viaA.call<{ operators: OperatorSlot[] }>('GET', '/api/operators');
        return listed.every((o) => o.connected);
      },
      'A to see both operators connected',
      60_000,
    );
    const run = await exec(operators[1]!);
    expect(run.result.exitCode).toBe(0);
    expect(run.modelOutput?.text).toBe('across\n');
  }, 120_000);

  it("leaves every execution id once, in its own host's vault", async () => {
    for (const operator of operators) await operator.stop();
    for (const operator of operators) {
      const runs = runsInVault(operator.stateDir);
      for (const run of issued) expect(runs.get(run.id) ?? 0).toBe(run.operator === operator ? 1 : 0);
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
    }
  });
});
