import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { caFiles } from '@dropops/pki';
import { AdminClient, loadConfig, startAppliance, type RunningAppliance } from '@dropops/appliance';
import type { BatchView } from '@dropops/protocol';
import { bin, tempDir } from '../helpers.ts';
import { capturedLogger, eventually } from '../support/appliance.ts';
import { backends, hasRedis } from '../support/services.ts';
import { addOperator, batchEnded, dropQueue, runsInVault, type TestOperator } from './support.ts';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Each step's execution id ran exactly once on its own host and nowhere else; its command wrote one line. */
function expectEachStepRanOnce(batch: BatchView, operators: TestOperator[]): void {
  for (const operator of operators) {
    const runs = runsInVault(operator.stateDir);
    for (const step of batch.steps)
      expect(runs.get(step.executionId!) ?? 0).toBe(step.operatorId === operator.id ? 1 : 0);
    expect(readFileSync(join(operator.cwd, 'ran.txt'), 'utf8')).toBe('once\n');
  }
}

const COMMAND = 'sleep 4; echo once >> ran.txt';

describe.runIf(backends().includes('postgresql') && hasRedis())(
  'a relay killed in the middle of a batch (BullMQ on Redis, PostgreSQL)',
  () => {
    const work = tempDir();
    const database = `dropops_restart_${randomBytes(5).toString('hex')}`;
    const server = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    const databaseUrl = Object.assign(new URL(process.env.DATABASE_URL!), {
      pathname: `/${database}`,
    }).toString();
    const dataDir = join(work.path, 'relay');
    let relay: ChildProcess | undefined;
    const relayOutput: string[] = [];
    const operators: TestOperator[] = [];

    /** The real `dropops-appliance start`, as a process of its own that the test can SIGKILL. */
    async function startRelay(port: number): Promise<void> {
      const child = spawn(
        bin('dropops-appliance'),
        ['start', '--data-dir', dataDir, '--port', String(port), '--database-url', databaseUrl],
        { env: { ...process.env, REDIS_URL: process.env.REDIS_URL, DROPOPS_LOG_LEVEL: 'info' } },
      );
      relay = child;
      let stdout = '';
      child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => relayOutput.push(chunk.toString()));
      await eventually(
        () => {
          if (child.exitCode !== null) throw new Error(`the relay exited: ${relayOutput.join('')}`);
          return stdout.includes('DropOps appliance running at');
        },
        'the relay to start',
        60_000,
      );
    }
    const killRelay = async (signal: NodeJS.Signals) => {
      const child = relay!;
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
    };

    afterAll(async () => {
      for (const operator of operators) await operator.stop();
      if (relay) await killRelay('SIGTERM');
      const rootCert = caFiles(join(dataDir, 'pki')).rootCert;
      if (existsSync(rootCert)) await dropQueue(process.env.REDIS_URL!, readFileSync(rootCert, 'utf8'));
      await server.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await server.end();
      work.remove();
    });

    it('finishes the batch after a restart on the same database and Redis, running nothing twice', async () => {
      await server.unsafe(`CREATE DATABASE ${database}`);
      const port = await freePort();
      await startRelay(port);
      const admin = new AdminClient(dataDir);
      const info = { url: admin.relay.url, caPin: admin.relay.caPin };
      for (const name of ['kill-a', 'kill-b']) {
        const operator = await addOperator(admin, info, work.path, name);
        operators.push(operator);
        await operator.start();
      }
      const { batch } = await admin.call<{ batch: BatchView }>('POST', '/api/batches', {
        operators: operators.map((o) => o.name),
        command: COMMAND,
      });
      const db = postgres(databaseUrl, { max: 1, onnotice: () => {} });
      try {
        await eventually(
          async () =>
            (
              await db`
                SELECT 1 FROM batch_steps s JOIN executions e ON e.id = s.execution_id
                WHERE s.batch_id = ${batch.id} AND s.position = 0 AND e.state = 'running'`
            ).length === 1,
          'the first step to be running on its host',
          30_000,
        );
      } finally {
        await db.end();
      }
      // No goodbye: the process dies with the batch job locked in Redis and the first command still running.
      await killRelay('SIGKILL');
      await startRelay(port);

      const ended = await batchEnded(admin, batch.id, 180_000);
      expect(ended.status).toBe('succeeded');
      expect(ended.steps.map((s) => [s.operator, s.state, s.exitCode])).toEqual([
        ['acme/kill-a', 'succeeded', 0],
        ['acme/kill-b', 'succeeded', 0],
      ]);
      for (const operator of operators) await operator.stop();
      expectEachStepRanOnce(ended, operators);
    }, 300_000);
  },
);

describe('a relay restarted in the middle of a batch (the embedded default: in-process queue, PGlite)', () => {
  const work = tempDir();
  const operators: TestOperator[] = [];
  let relay: RunningAppliance | undefined;

  afterAll(async () => {
    for (const operator of operators) await operator.stop();
    await relay?.close();
    work.remove();
  });

  it('resolves the step that was running from the host vault when its result was lost with the link', async () => {
    const config = loadConfig({ dataDir: join(work.path, 'relay'), port: await freePort() }, {});
    const start = () => startAppliance(config, { logger: capturedLogger('appliance').logger });
    relay = await start();
    const admin = new AdminClient(config.dataDir);
    for (const name of ['restart-a', 'restart-b']) {
      const operator = await addOperator(admin, relay, work.path, name);
      operators.push(operator);
      await operator.start();
    }
    const [first, second] = operators as [TestOperator, TestOperator];
    const { batch } = await admin.call<{ batch: BatchView }>('POST', '/api/batches', {
      operators: [first.name, second.name],
      command: COMMAND,
    });
    await eventually(
      async () =>
        (
          await relay!.db.sql`
            SELECT 1 FROM batch_steps s JOIN executions e ON e.id = s.execution_id
            WHERE s.batch_id = ${batch.id} AND s.position = 0 AND e.state = 'running'`
        ).length === 1,
      'the first step to be running on its host',
      30_000,
    );
    // The relay stops (handing the batch job back); the host finishes the command with nobody to tell.
    await relay.close();
    relay = undefined;
    await eventually(
      () => existsSync(join(first.cwd, 'ran.txt')),
      'the first host to finish its run',
      30_000,
    );
    // Its operator restarts too, so the result waiting in its outbox is gone: only its vault knows.
    await first.stop();
    relay = await start();
    await first.start();

    const ended = await batchEnded(admin, batch.id, 120_000);
    expect(ended.status).toBe('succeeded');
    expect(ended.steps.map((s) => [s.operator, s.state, s.exitCode, s.resolvedFrom])).toEqual([
      ['acme/restart-a', 'succeeded', 0, 'vault'],
      ['acme/restart-b', 'succeeded', 0, 'live'],
    ]);
    for (const operator of operators) await operator.stop();
    expectEachStepRanOnce(ended, operators);
  }, 300_000);
});
