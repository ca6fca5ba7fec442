import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '@dropops/appliance';
import { caFiles } from '@dropops/pki';
import type { BatchView } from '@dropops/protocol';
import { startRelay, type RelayProcess } from '../../bench/lib.ts';
import { tempDir } from '../helpers.ts';
import { addOperator, batchEnded, dropQueue, runsInVault, type TestOperator } from '../jobs/support.ts';
import { eventually } from '../support/appliance.ts';
import { approvalTokensSigned } from '../support/operations.ts';
import { backends, hasRedis, ownDatabase } from '../support/services.ts';

// Long enough to kill a relay while it runs; a second run of the same step would add a line to ran.log.
const COMMAND = 'sleep 4; echo once >> ran.log';

const alive = (relay: RelayProcess) => relay.child.exitCode === null && relay.child.signalCode === null;

async function kill(relay: RelayProcess): Promise<void> {
  if (!alive(relay)) return;
  const exited = new Promise((resolve) => relay.child.once('exit', resolve));
  relay.child.kill('SIGKILL');
  await exited;
}

// Two relay processes sharing one data dir, one PostgreSQL database and Redis; op-1 and op-3 dial A first,
// op-2 dials B first, and each fails over to the other. The relay running a three-step batch over them
// dies (SIGKILL, its BullMQ lock left in Redis) while step 2 runs; the other takes the job over.
describe.runIf(backends().includes('postgresql') && hasRedis())(
  'a relay replica killed in the middle of a batch',
  () => {
    const work = tempDir('dropops-replica-kill-');
    const dataDir = join(work.path, 'appliance');
    let database: Awaited<ReturnType<typeof ownDatabase>>;
    let relayA: RelayProcess;
    let relayB: RelayProcess;
    const operators: TestOperator[] = [];

    beforeAll(async () => {
      database = await ownDatabase('dropops_replica_kill');
      relayA = await startRelay(dataDir, database.url, { REDIS_URL: process.env.REDIS_URL });
      relayB = await startRelay(dataDir, database.url, { REDIS_URL: process.env.REDIS_URL });
      for (const [name, first, second] of [
        ['op-1', relayA, relayB],
        ['op-2', relayB, relayA],
        ['op-3', relayA, relayB],
      ] as const) {
        const admin = new AdminClient(dataDir, first.url);
        const operator = await addOperator(admin, first, work.path, name, 'acme', [first.url, second.url]);
        operators.push(operator);
        await operator.start();
      }
    }, 240_000);

    afterAll(async () => {
      for (const operator of operators) await operator.stop();
      for (const relay of [relayA, relayB]) if (relay && alive(relay)) await relay.stop();
      const rootCert = caFiles(join(dataDir, 'pki')).rootCert;
      if (relayA) await dropQueue(process.env.REDIS_URL!, readFileSync(rootCert, 'utf8'));
      await database?.drop();
      work.remove();
    });

    it('finishes the batch on the surviving replica, each step run once on its own host', async () => {
      const signedBefore = await Promise.all([relayA, relayB].map(approvalTokensSigned));
      const { batch } = await new AdminClient(dataDir, relayA.url).call<{ batch: BatchView }>(
        'POST',
        '/api/batches',
        { operators: operators.map((o) => o.name), command: COMMAND },
      );
      const db = postgres(database.url, { max: 1, onnotice: () => {} });
      try {
        await eventually(
          async () =>
            (
              await db`
                SELECT 1 FROM batch_steps s JOIN executions e ON e.id = s.execution_id
                WHERE s.batch_id = ${batch.id} AND s.position = 1 AND e.state = 'running'`
            ).length === 1,
          'step 2 to be running on its host',
          90_000,
        );
      } finally {
        await db.end();
      }
      // The relay running the batch signed its steps' approval tokens; the other signed none.
      const signedAfter = await Promise.all([relayA, relayB].map(approvalTokensSigned));
      const runsOnA = signedAfter[0]! > signedBefore[0]!;
      const [runner, survivor] = runsOnA ? [relayA, relayB] : [relayB, relayA];
      expect(signedAfter[runsOnA ? 1 : 0]).toBe(signedBefore[runsOnA ? 1 : 0]);
      console.log(`relay ${runsOnA ? 'A' : 'B'} runs the batch and is killed during step 2`);
      await kill(runner);

      const ended = await batchEnded(new AdminClient(dataDir, survivor.url), batch.id, 180_000);
      console.log(`steps resolved from: ${ended.steps.map((s) => s.resolvedFrom).join(', ')}`);
      expect(ended.status).toBe('succeeded');
      expect(ended.steps.map((s) => [s.operator, s.state, s.exitCode])).toEqual([
        ['acme/op-1', 'succeeded', 0],
        ['acme/op-2', 'succeeded', 0],
        ['acme/op-3', 'succeeded', 0],
      ]);
      for (const operator of operators) await operator.stop();
      for (const operator of operators) {
        const runs = runsInVault(operator.stateDir);
        for (const step of ended.steps)
          expect(runs.get(step.executionId!) ?? 0).toBe(step.operatorId === operator.id ? 1 : 0);
        expect(readFileSync(join(operator.cwd, 'ran.log'), 'utf8')).toBe('once\n');
      }
    }, 360_000);
  },
);
