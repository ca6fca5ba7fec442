import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startAppliance, type RunningAppliance } from '@dropops/appliance';
import { enroll, runOperator } from '@dropops/operator';
import { tempDir } from '../helpers.ts';
import { capturedLogger, eventually, startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { backends } from '../support/services.ts';

const host = 'd4'.repeat(32);

// Two replicas in one test process: each has its own HTTPS server, Socket.IO hub, connection pool and
// data dir (a copy of the same CA, as on two machines), and they share only the PostgreSQL database.
describe.skipIf(!backends().includes('postgresql'))('two relay replicas on one PostgreSQL', () => {
  const work = tempDir();
  let replicaA: TestAppliance;
  let replicaB: RunningAppliance;

  beforeAll(async () => {
    replicaA = await startTestAppliance('postgresql');
    const dataDirB = join(work.path, 'replica-b');
    cpSync(join(replicaA.dataDir, 'pki'), join(dataDirB, 'pki'), { recursive: true });
    replicaB = await startAppliance(
      loadConfig({ dataDir: dataDirB, port: 0, databaseUrl: process.env.DATABASE_URL }, {}),
      {
        databaseConnection: replicaA.databaseConnection,
        logger: capturedLogger('replica-b').logger,
      },
    );
  });
  afterAll(async () => {
    await replicaB?.close();
    await replicaA?.stop();
    work.remove();
  });

  it('cuts off an operator connected to one replica when its key is revoked through the other', async () => {
    const { apiKey, operator } = await replicaA.admin.call<{ apiKey: string; operator: { id: string } }>(
      'POST',
      '/api/operators',
      {
        org: 'acme',
        name: 'replicated',
      },
    );
    const dir = join(work.path, 'state');
    // Enrolled through replica B, connected to replica B, revoked through replica A.
    await enroll({ relay: replicaB.url, apiKey, caPin: replicaB.caPin, dir, fingerprint: host });
    let connections = 0;
    const outcome = runOperator({
      dir,
      log: capturedLogger('operator').logger,
      fingerprint: host,
      onConnected: () => connections++,
    });
    outcome.catch(() => {});
    await eventually(() => replicaB.hub.isConnected(operator.id), 'the operator to reach replica B');
    expect(replicaA.hub.isConnected(operator.id)).toBe(false);

    await replicaA.admin.call('POST', `/api/operators/${operator.id}/revoke-key`);
    await eventually(() => !replicaB.hub.isConnected(operator.id), 'replica B to drop the operator');
    await expect(outcome).rejects.toMatchObject({
      code: expect.stringMatching(/^(CERT_REVOKED|API_KEY_REVOKED)$/),
    });
    expect(connections).toBe(1);
  });

  it('cuts off a certificate revoked by serial through the other replica', async () => {
    const { apiKey, operator } = await replicaA.admin.call<{ apiKey: string; operator: { id: string } }>(
      'POST',
      '/api/operators',
      {
        org: 'acme',
        name: 'replicated-cert',
      },
    );
    const dir = join(work.path, 'state-cert');
    await enroll({ relay: replicaB.url, apiKey, caPin: replicaB.caPin, dir, fingerprint: host });
    const outcome = runOperator({ dir, log: capturedLogger('operator').logger, fingerprint: host });
    outcome.catch(() => {});
    await eventually(() => replicaB.hub.isConnected(operator.id), 'the operator to reach replica B');
    const rows = await replicaA.db.sql<{ serial: string }[]>`
      SELECT serial FROM operator_certificates WHERE operator_id = ${operator.id}`;
    await replicaA.admin.call('POST', `/api/certificates/${rows[0]!.serial}/revoke`);
    await expect(outcome).rejects.toMatchObject({ code: 'CERT_REVOKED' });
    expect(replicaB.hub.isConnected(operator.id)).toBe(false);
  });
});
