import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient, loadConfig, startAppliance } from '@dropops/appliance';
import type { ExecOutcome } from '../../appliance/src/executions/service.ts';
import { tempDir } from '../helpers.ts';
import { capturedLogger, eventually, startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { httpsGet, startLoadBalancer, startOperator, type LoadBalancer } from '../support/operations.ts';
import { backends } from '../support/services.ts';

const host = 'f6'.repeat(32);

/** Replica B: its own data dir holding a copy of A's CA directory, as on a second machine, and A's database. */
async function startReplicaB(replicaA: TestAppliance, dir: string) {
  cpSync(join(replicaA.dataDir, 'pki'), join(dir, 'pki'), { recursive: true });
  const replica = await startAppliance(
    loadConfig({ dataDir: dir, port: 0, databaseUrl: process.env.DATABASE_URL }, {}),
    { databaseConnection: replicaA.databaseConnection, logger: capturedLogger('replica-b').logger },
  );
  return Object.assign(replica, { admin: new AdminClient(dir) });
}

// A drained replica hands its operators to the other one; they share PostgreSQL, so PGlite cannot take part.
describe.skipIf(!backends().includes('postgresql'))('an operator on a draining replica', () => {
  const work = tempDir();
  let replicaA: TestAppliance;
  let replicaB: Awaited<ReturnType<typeof startReplicaB>>;
  let balancer: LoadBalancer;

  beforeAll(async () => {
    replicaA = await startTestAppliance('postgresql');
    replicaB = await startReplicaB(replicaA, join(work.path, 'replica-b'));
    balancer = await startLoadBalancer([replicaA, replicaB], replicaA.ca.rootCertPem);
  });
  afterAll(async () => {
    await balancer?.close();
    await replicaB?.close();
    await replicaA?.stop();
    work.remove();
  });

  it('finishes its run on A, then reconnects through the load balancer to B without being stopped', async () => {
    // Enrolled and connected through the balancer, which sends everything to A while A is ready.
    const operator = await startOperator({
      admin: replicaA.admin,
      enrollUrl: balancer.url,
      caPin: replicaA.caPin,
      work: work.path,
      name: 'balanced',
      fingerprint: host,
    });
    expect(replicaA.hub.isConnected(operator.operatorId)).toBe(true);

    const gate = join(work.path, 'gate');
    const running = replicaA.admin.call<ExecOutcome>(
      'POST',
      `/api/operators/${operator.operatorId}/exec`,
      { command: `while [ ! -e ${gate} ]; do sleep 0.05; done; echo done`, approve: true },
      0,
    );
    await eventually(
      async () => (await replicaA.db.sql`SELECT 1 FROM executions WHERE state = 'running'`).length === 1,
      'the run to start on the host',
    );
    const drained = replicaA.drain(60_000);
    await eventually(
      async () => (await httpsGet(replicaA.url, '/readyz', replicaA.ca.rootCertPem)).status === 503,
      'A to report not ready',
    );
    await eventually(
      () => operator.logs.some((l) => l.msg.startsWith('the relay is draining')),
      'the operator to hear that A drains',
    );
    // The caller on A gets its result: the operator stays until the run has reported.
    writeFileSync(gate, '');
    const outcome = await running;
    expect(outcome.result).toMatchObject({ exitCode: 0, error: null });

    // The relay sees the connection a moment before the operator's own `connect` event.
    await eventually(
      () => replicaB.hub.isConnected(operator.operatorId) && operator.connections() === 2,
      'the operator to reach B',
      30_000,
    );
    const report = await drained;
    expect(report.clean).toBe(true);
    expect(report.operatorsTold).toBeGreaterThanOrEqual(1);
    expect(balancer.routed.at(-1)).toBe(1);
    expect(operator.ended()).toBeNull();
    expect(operator.logs.some((l) => l.msg.includes('asked this operator to stop'))).toBe(false);

    // Served by B now.
    const after = await replicaB.admin.call<ExecOutcome>(
      'POST',
      `/api/operators/${operator.operatorId}/exec`,
      { command: 'echo on-b' },
      0,
    );
    expect(after.modelOutput?.text).toBe('on-b\n');
    await expect(operator.stop()).resolves.toBe('interrupted');
  });
});

describe.skipIf(!backends().includes('postgresql'))('an operator with a list of replicas', () => {
  const work = tempDir();
  let replicaA: TestAppliance;
  let replicaB: Awaited<ReturnType<typeof startReplicaB>>;

  beforeAll(async () => {
    replicaA = await startTestAppliance('postgresql');
    replicaB = await startReplicaB(replicaA, join(work.path, 'replica-b'));
  });
  afterAll(async () => {
    await replicaB?.close();
    await replicaA?.stop();
    work.remove();
  });

  it('moves to the next replica in its list when the one it is on drains', async () => {
    const operator = await startOperator({
      admin: replicaA.admin,
      enrollUrl: replicaA.url,
      caPin: replicaA.caPin,
      work: work.path,
      name: 'listed',
      fingerprint: host,
      relays: [replicaA.url, replicaB.url],
    });
    expect(replicaA.hub.isConnected(operator.operatorId)).toBe(true);
    const report = await replicaA.drain(60_000);
    expect(report).toMatchObject({ clean: true, operatorsTold: 1 });
    // The relay sees the connection a moment before the operator's own `connect` event.
    await eventually(
      () => replicaB.hub.isConnected(operator.operatorId) && operator.connections() === 2,
      'the operator to reach B',
      30_000,
    );
    expect(operator.ended()).toBeNull();
    await expect(operator.stop()).resolves.toBe('interrupted');
  });
});
