import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '@dropops/appliance';
import type { ExecOutcome } from '../../appliance/src/executions/service.ts';
import { enroll, runOperator } from '@dropops/operator';
import type { OperatorSlot } from '@dropops/protocol';
import { startRelay, type RelayProcess } from '../../bench/lib.ts';
import { openVault } from '../../operator/src/vault/index.ts';
import { tempDir } from '../helpers.ts';
import { capturedLogger, eventually } from '../support/appliance.ts';
import { backends, hasRedis, ownDatabase } from '../support/services.ts';

const host = 'e5'.repeat(32);
const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');

const exited = (relay: RelayProcess) => relay.child.exitCode !== null || relay.child.signalCode !== null;

// Two relay processes on loopback that share one data dir (the CA, the admin token), one PostgreSQL
// database and one Redis; an operator dials B first and A when B is gone. Every admin call goes to A.
describe.skipIf(!backends().includes('postgresql') || !hasRedis())(
  'two relay processes sharing PostgreSQL and Redis',
  () => {
    const work = tempDir('dropops-replicas-');
    const dataDir = join(work.path, 'appliance');
    const stateDir = join(work.path, 'state');
    const cwd = join(work.path, 'srv');
    const operatorLog = capturedLogger('operator');
    let database: Awaited<ReturnType<typeof ownDatabase>>;
    let replicaA: RelayProcess;
    let replicaB: RelayProcess;
    let viaA: AdminClient;
    let slot: { operator: OperatorSlot; apiKey: string };
    let stop: () => void;
    let outcome: Promise<unknown>;
    const issued: string[] = [];

    const connectedTo = (relay: RelayProcess) =>
      operatorLog.lines.filter((l) => l.msg === 'connected to the relay' && l.relay === relay.url).length;
    const exec = async (command: string, approve = false) => {
      const run = await viaA.call<ExecOutcome>('POST', `/api/operators/${slot.operator.id}/exec`, {
        command,
        approve,
      });
      issued.push(run.executionId);
      return run;
    };
    const connectedOnA = async () => {
      const { operators } = await viaA.call<{ operators: OperatorSlot[] }>('GET', '/api/operators');
      return operators.find((o) => o.id === slot.operator.id)?.connected;
    };
    const executionsOnA = async () =>
      (
        await viaA.call<{ executions: { id: string; state: string; exit_code: number | null }[] }>(
          'GET',
          `/api/operators/${slot.operator.id}/executions`,
        )
      ).executions;

    beforeAll(async () => {
      database = await ownDatabase();
      // A makes the CA and the admin token; B starts on the same data dir after it.
      replicaA = await startRelay(dataDir, database.url, { REDIS_URL: process.env.REDIS_URL });
      replicaB = await startRelay(dataDir, database.url, { REDIS_URL: process.env.REDIS_URL });
      viaA = new AdminClient(dataDir, replicaA.url);
      slot = await viaA.call('POST', '/api/operators', { org: 'acme', name: 'db-1' });
      mkdirSync(cwd);
      writeFileSync(join(cwd, 'notes.txt'), 'hello from behind replica B\n');
      await enroll({
        relay: replicaB.url,
        apiKey: slot.apiKey,
        caPin: replicaB.caPin,
        dir: stateDir,
        fingerprint: host,
      });
      const controller = new AbortController();
      outcome = runOperator({
        dir: stateDir,
        log: operatorLog.logger,
        fingerprint: host,
        signal: controller.signal,
        cwd,
        relays: [replicaB.url, replicaA.url],
      });
      outcome.catch(() => {});
      stop = () => controller.abort();
      await eventually(() => connectedTo(replicaB) === 1, 'the operator to connect to replica B', 60_000);
    }, 180_000);

    afterAll(async () => {
      stop?.();
      await outcome?.catch(() => {});
      for (const relay of [replicaA, replicaB]) if (relay && !exited(relay)) await relay.stop();
      await database?.drop();
      work.remove();
    });

    it('shows an operator connected to B as connected, through A', async () => {
      expect(await connectedOnA()).toBe(true);
    });

    it('runs read-only and approved commands issued on A on the operator connected to B', async () => {
      const read = await exec('cat notes.txt');
      expect(read.mode).toBe('auto');
      expect(read.result).toMatchObject({ exitCode: 0, stdoutBytes: 28, stderrBytes: 0 });
      expect(read.result.sha256).toBe(sha256('hello from behind replica B\n'));
      // The model output crossed from B to A in memory; the database holds only its size.
      expect(read.modelOutput?.text).toBe('hello from behind replica B\n');

      const approved = await exec('touch approved-through-a', true);
      expect(approved.mode).toBe('approved');
      expect(approved.result.exitCode).toBe(0);
      expect(existsSync(join(cwd, 'approved-through-a'))).toBe(true);

      const rows = await executionsOnA();
      expect(rows.find((r) => r.id === read.executionId)).toMatchObject({ state: 'finished', exit_code: 0 });
      expect(rows.find((r) => r.id === approved.executionId)).toMatchObject({ state: 'finished' });
      expect(JSON.stringify(rows)).not.toContain('hello from behind replica B');
    });

    it("answers history from the host's vault and cancels a run, both through A", async () => {
      const history = await viaA.call<{ events: { type: string }[] }>(
        'POST',
        `/api/operators/${slot.operator.id}/history`,
        { limit: 100 },
      );
      expect(history.events.some((e) => e.type === 'APPROVAL')).toBe(true);
      expect(history.events.filter((e) => e.type === 'CMD_EXEC').length).toBeGreaterThanOrEqual(4);

      const running = exec('sleep 60', true);
      const id = await eventually(
        async () => (await executionsOnA()).find((e) => e.state === 'running')?.id,
        'the run to start',
        30_000,
      );
      await viaA.call('POST', `/api/executions/${id}/cancel`);
      const cancelled = await running;
      expect(cancelled.result.error?.code).toBe('CANCELLED');
    });

    it('survives the SIGKILL of replica B mid-run: the operator moves to A, the run is recorded once', async () => {
      const inFlight = exec('sleep 5 && touch finished-in-flight', true).then(
        () => 'settled',
        (err: { code?: string }) => err.code,
      );
      const id = await eventually(
        async () => (await executionsOnA()).find((e) => e.state === 'running')?.id,
        'the run to start',
        30_000,
      );
      replicaB.child.kill('SIGKILL');
      // A's caller is not left hanging: its link to the host was on B, which is gone.
      expect(await inFlight).toBe('OPERATOR_OFFLINE');
      await eventually(() => connectedTo(replicaA) === 1, 'the operator to reconnect to A', 60_000);
      await eventually(async () => (await connectedOnA()) === true, 'A to list the operator as connected');

      // Nothing lost: the host reports the run it finished to A when it gets there.
      const recorded = await eventually(
        async () => (await executionsOnA()).find((e) => e.id === id && e.state === 'finished'),
        'the in-flight run to be recorded',
        60_000,
      );
      expect(recorded.exit_code).toBe(0);
      expect(existsSync(join(cwd, 'finished-in-flight'))).toBe(true);
      issued.push(id);

      const after = await exec('cat notes.txt');
      expect(after.result.exitCode).toBe(0);
      expect(after.modelOutput?.text).toBe('hello from behind replica B\n');
    });

    it("leaves every execution id once in the host's vault", async () => {
      stop();
      await outcome;
      const vault = openVault(stateDir);
      try {
        const started = [...vault.events({ type: 'CMD_EXEC' })]
          .map((e) => e.payload as { executionId?: string; sealOf?: string })
          .filter((p) => p.sealOf === undefined)
          .map((p) => p.executionId);
        expect(new Set(started).size).toBe(started.length);
        for (const id of issued) expect(started.filter((s) => s === id)).toHaveLength(1);
      } finally {
        vault.close();
      }
    });
  },
);
