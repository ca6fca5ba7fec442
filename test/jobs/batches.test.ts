import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClientError } from '@dropops/appliance';
import type { BatchView } from '@dropops/protocol';
import { bin, exec, tempDir } from '../helpers.ts';
import { eventually, startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { backends, hasRedis, type Backend } from '../support/services.ts';
import { addOperator, batchEnded, dropQueue, getBatch, runsInVault, type TestOperator } from './support.ts';

interface Setup {
  label: string;
  backend: Backend;
  redis: boolean;
}
const setups: Setup[] = [{ label: 'the in-process queue on PGlite', backend: 'pglite', redis: false }];
if (backends().includes('postgresql') && hasRedis())
  setups.push({ label: 'BullMQ on Redis with PostgreSQL', backend: 'postgresql', redis: true });

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (err: AdminClientError) => err.code,
  );

describe.each(setups)('approved batches on $label', (setup) => {
  const work = tempDir();
  let relay: TestAppliance;
  let a: TestOperator;
  let b: TestOperator;
  let offline: TestOperator;
  /** Steps that ran on their host, and steps that got an execution id but were refused or not delivered. */
  const ran: { executionId: string; operator: string }[] = [];
  const notRun: string[] = [];
  const record = (batch: BatchView) => {
    for (const step of batch.steps) {
      if (!step.executionId) continue;
      if (step.exitCode !== null || step.errorCode === 'CANCELLED')
        ran.push({ executionId: step.executionId, operator: step.operatorId });
      else notRun.push(step.executionId);
    }
  };

  const run = async (body: Record<string, unknown>): Promise<BatchView> => {
    const { batch } = await relay.admin.call<{ batch: BatchView }>('POST', '/api/batches', body);
    const ended = await batchEnded(relay.admin, batch.id);
    record(ended);
    return ended;
  };

  beforeAll(async () => {
    relay = await startTestAppliance(setup.backend, {
      redisUrl: setup.redis ? process.env.REDIS_URL : undefined,
      // A relay that just started gives operators this long to (re)connect before a step fails as offline.
      reconnectGraceMs: 1_500,
      sweepIntervalMs: 300,
    });
    a = await addOperator(relay.admin, relay, work.path, 'web-a');
    b = await addOperator(relay.admin, relay, work.path, 'web-b');
    offline = await addOperator(relay.admin, relay, work.path, 'web-off');
    await a.start();
    await b.start();
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    if (setup.redis && relay) await dropQueue(process.env.REDIS_URL!, relay.ca.rootCertPem);
    await relay?.stop();
    work.remove();
  });

  it('runs one approved command on each host in order, each under its own execution id', async () => {
    const batch = await run({ operators: [a.name, `acme/${b.name}`], command: 'echo ran >> ran.txt' });
    expect(batch.status).toBe('succeeded');
    expect(batch.steps.map((s) => [s.operator, s.state, s.exitCode, s.resolvedFrom])).toEqual([
      ['acme/web-a', 'succeeded', 0, 'live'],
      ['acme/web-b', 'succeeded', 0, 'live'],
    ]);
    const [first, second] = batch.steps;
    expect(first!.executionId).not.toBe(second!.executionId);
    // Sequential: the second host got the command only after the first had finished.
    expect(Date.parse(second!.sentAt!)).toBeGreaterThanOrEqual(Date.parse(first!.finishedAt!));
    expect(readFileSync(join(a.cwd, 'ran.txt'), 'utf8')).toBe('ran\n');
    expect(readFileSync(join(b.cwd, 'ran.txt'), 'utf8')).toBe('ran\n');
    // The command text is gone once the batch has ended; each run is recorded, approved by the admin.
    const [row] = await relay.db.sql<{ command: string | null }[]>`
      SELECT command FROM batches WHERE id = ${batch.id}`;
    expect(row!.command).toBeNull();
    const executions = await relay.db.sql<{ approved_by: string; state: string }[]>`
      SELECT approved_by, state FROM executions WHERE id IN ${relay.db.sql([first!.executionId!, second!.executionId!])}`;
    expect(executions).toEqual([
      { approved_by: batch.approvedBy, state: 'finished' },
      { approved_by: batch.approvedBy, state: 'finished' },
    ]);
  });

  it('stops at the first failure and sends nothing to the hosts after it', async () => {
    writeFileSync(join(b.cwd, 'only-on-b.txt'), 'b\n');
    const batch = await run({ operators: [a.name, b.name], command: 'cat only-on-b.txt > copy.txt' });
    expect(batch.status).toBe('failed');
    expect(batch.steps.map((s) => [s.state, s.exitCode])).toEqual([
      ['failed', 1],
      ['skipped', null],
    ]);
    expect(batch.steps[1]!.executionId).toBeNull();
    expect(existsSync(join(b.cwd, 'copy.txt'))).toBe(false);
  });

  it('goes on after a failure when the approver chose continueOnFailure', async () => {
    const batch = await run({
      operators: [a.name, b.name],
      command: 'cat only-on-b.txt > copy.txt',
      continueOnFailure: true,
    });
    expect(batch.status).toBe('failed');
    expect(batch.steps.map((s) => [s.state, s.exitCode])).toEqual([
      ['failed', 1],
      ['succeeded', 0],
    ]);
    expect(readFileSync(join(b.cwd, 'copy.txt'), 'utf8')).toBe('b\n');
  });

  it('counts an offline operator and a refusal by the host as failures', async () => {
    const toOffline = await run({ operators: [offline.name, a.name], command: 'echo x >> offline.txt' });
    expect(toOffline.steps.map((s) => [s.state, s.errorCode])).toEqual([
      ['failed', 'OPERATOR_OFFLINE'],
      ['skipped', null],
    ]);
    expect(existsSync(join(a.cwd, 'offline.txt'))).toBe(false);
    // The host's own policy refuses this even with the approval; nothing runs and the batch stops there.
    const refused = await run({
      operators: [a.name, b.name],
      command: 'mkfs.ext4 /nonexistent/dropops-test',
    });
    expect(refused.steps.map((s) => [s.state, s.errorCode])).toEqual([
      ['failed', 'COMMAND_REFUSED'],
      ['skipped', null],
    ]);
  });

  it('cancel stops the batch: the running step is killed on its host and the rest are skipped', async () => {
    const { batch } = await relay.admin.call<{ batch: BatchView }>('POST', '/api/batches', {
      operators: [a.name, b.name],
      command: 'sleep 60',
    });
    await eventually(
      async () => {
        const [row] = await relay.db.sql<{ state: string }[]>`
          SELECT e.state FROM batch_steps s JOIN executions e ON e.id = s.execution_id
          WHERE s.batch_id = ${batch.id} AND s.position = 0`;
        return row?.state === 'running';
      },
      'the first step to run',
      30_000,
    );
    await relay.admin.call('POST', `/api/batches/${batch.id}/cancel`);
    const ended = await batchEnded(relay.admin, batch.id);
    record(ended);
    expect(ended.status).toBe('cancelled');
    expect(ended.steps.map((s) => [s.state, s.errorCode])).toEqual([
      ['failed', 'CANCELLED'],
      ['skipped', null],
    ]);
    // A batch that has ended cannot be cancelled again into anything else.
    const done = await run({ operators: [a.name], command: 'echo y >> y.txt' });
    expect(await refusal(relay.admin.call('POST', `/api/batches/${done.id}/cancel`))).toBe('BATCH_FINISHED');
  });

  it('refuses malformed batches and takes the approver only from the admin credential', async () => {
    const create = (body: unknown) => refusal(relay.admin.call('POST', '/api/batches', body));
    expect(await create({ operators: [], command: 'echo' })).toBe('BAD_REQUEST');
    expect(await create({ operators: [a.name, a.name], command: 'echo' })).toBe('BAD_REQUEST');
    expect(await create({ operators: [a.name, `acme/${a.name}`], command: 'echo' })).toBe('BAD_REQUEST');
    expect(await create({ operators: [a.name] })).toBe('BAD_REQUEST');
    expect(await create({ operators: ['no-such-host'], command: 'echo' })).toBe('OPERATOR_NOT_FOUND');
    expect(await refusal(relay.admin.call('GET', '/api/batches/not-a-batch'))).toBe('BATCH_NOT_FOUND');
    expect(
      await refusal(
        relay.admin.call('GET', `/api/batches/00000000-0000-4000-8000-${randomBytes(6).toString('hex')}`),
      ),
    ).toBe('BATCH_NOT_FOUND');
    const batch = await run({
      operators: [a.name],
      command: 'echo z >> z.txt',
      approvedBy: 'mallory',
      requestedBy: 'mallory',
    });
    expect(batch.approvedBy).toBe('admin (appliance admin token)');
    expect(batch.requestedBy).toBe('admin (appliance admin token)');
  });

  it('runs the certificate-expiry sweep and the clean-up as repeatable jobs', async () => {
    expect(relay.jobs.cleanup.names()).toContain('request-nonces');
    await relay.db.sql`
      INSERT INTO request_nonces (nonce, seen_at) VALUES ('old-nonce-from-an-hour-ago-xx', now() - interval '1 hour')`;
    const lapsed = await addOperator(relay.admin, relay, work.path, 'lapsed');
    const late = await addOperator(relay.admin, relay, work.path, 'late');
    // Their real certificates revoked, then one that ran out an hour ago and one with under a third left.
    await relay.db.sql`
      UPDATE operator_certificates SET revoked_at = now() WHERE operator_id IN ${relay.db.sql([lapsed.id, late.id])}`;
    await relay.db.sql`
      INSERT INTO operator_certificates (serial, operator_id, fingerprint, not_after, issued_at) VALUES
        (${randomBytes(16).toString('hex')}, ${lapsed.id}, ${'0'.repeat(64)}, now() - interval '1 hour', now() - interval '25 hours'),
        (${randomBytes(16).toString('hex')}, ${late.id}, ${'0'.repeat(64)}, now() + interval '2 hours', now() - interval '22 hours')`;
    const states = async () =>
      Object.fromEntries(
        (
          await relay.db.sql<{ name: string; certificate_state: string | null }[]>`
            SELECT name, certificate_state FROM operator_slots`
        ).map((r) => [r.name, r.certificate_state]),
      );
    await eventually(
      async () => (await states()).lapsed === 'expired',
      'the sweep to mark the lapsed slot',
      30_000,
    );
    expect(await states()).toMatchObject({
      'web-a': 'valid',
      'web-b': 'valid',
      lapsed: 'expired',
      late: 'expiring',
    });
    // Each change is logged with the slot it concerns.
    const warned = () =>
      relay.logs
        .filter((l) => l.code?.startsWith('CERT_EXPIR'))
        .map((l) => `${l.code} ${String(l.operatorId)}`);
    await eventually(() => warned().length >= 2, 'the warnings', 30_000);
    expect(warned()).toEqual(
      expect.arrayContaining([`CERT_EXPIRED ${lapsed.id}`, `CERT_EXPIRING ${late.id}`]),
    );
    await eventually(
      async () =>
        (await relay.db.sql`SELECT 1 FROM request_nonces WHERE nonce = 'old-nonce-from-an-hour-ago-xx'`)
          .length === 0,
      'the clean-up to prune the old nonce',
      30_000,
    );
    // The sweep keeps running: its check time moves on.
    const checkedAt = async () =>
      (
        await relay.db.sql<
          { at: Date }[]
        >`SELECT certificate_checked_at AS at FROM operator_slots WHERE id = ${a.id}`
      )[0]!.at;
    const before = await checkedAt();
    await eventually(async () => (await checkedAt()) > before, 'another sweep', 30_000);
  });

  // The CLI talks to whichever relay its data dir names; one setup is enough for it.
  const onOneSetup = setup.backend === 'pglite' ? it : () => undefined;
  onOneSetup(
    'drives batches from the command line',
    async () => {
      // The data dir goes before `--`: what follows it is the command.
      const cli = (...args: string[]) =>
        exec(bin('dropops-appliance'), [args[0]!, args[1]!, '--data-dir', relay.dataDir, ...args.slice(2)]);
      const help = await cli('batch', 'run', '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('--continue-on-failure');
      const started = await cli(
        'batch',
        'run',
        '--operators',
        `${a.name},${b.name}`,
        '--',
        'echo',
        'cli',
        '>>',
        'cli.txt',
      );
      expect(started.stderr).not.toContain('dropops-appliance batch run:');
      expect(started.code).toBe(0);
      expect(started.stdout).toMatch(/\[1\/2\] acme\/web-a\s+succeeded\s+exit 0/);
      expect(started.stdout).toMatch(/\[2\/2\] acme\/web-b\s+succeeded\s+exit 0/);
      const id = /batch (\S+) approved/.exec(started.stdout)![1]!;
      expect(readFileSync(join(b.cwd, 'cli.txt'), 'utf8')).toBe('cli\n');
      const shown = await cli('batch', 'show', id, '--json');
      const batch = JSON.parse(shown.stdout) as BatchView;
      expect(batch.status).toBe('succeeded');
      record(batch);

      const failing = await cli(
        'batch',
        'run',
        '--operators',
        a.name,
        '--',
        'cat',
        'missing.txt',
        '>',
        'out.txt',
      );
      expect(failing.code).toBe(1);
      expect(failing.stdout).toContain('failed');
      record(await getBatch(relay.admin, /batch (\S+) approved/.exec(failing.stdout)![1]!));

      const finished = await cli('batch', 'cancel', id);
      expect(finished.code).toBe(1);
      expect(finished.stderr).toContain('BATCH_FINISHED');
      const noOperators = await cli('batch', 'run', '--', 'uptime');
      expect(noOperators.code).toBe(2);
      expect(noOperators.stderr).toContain('--operators is required');
      const noCommand = await cli('batch', 'run', '--operators', a.name);
      expect(noCommand.code).toBe(2);
      const unknown = await cli('batch', 'show', '00000000-0000-4000-8000-000000000000');
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('BATCH_NOT_FOUND');
      for (const result of [finished, noOperators, noCommand, unknown])
        expect(result.stderr).not.toMatch(/\n\s+at /);
    },
    180_000,
  );

  it('ran every step exactly once, on its own host only', async () => {
    await a.stop();
    await b.stop();
    const vaults = new Map([
      [a.id, runsInVault(a.stateDir)],
      [b.id, runsInVault(b.stateDir)],
    ]);
    expect(ran.length).toBeGreaterThan(5);
    for (const step of ran) {
      for (const [operatorId, runs] of vaults)
        expect(runs.get(step.executionId) ?? 0).toBe(operatorId === step.operator ? 1 : 0);
    }
    // Refused or undelivered steps had an execution id but never ran anywhere.
    expect(notRun.length).toBeGreaterThanOrEqual(2);
    for (const executionId of notRun)
      for (const runs of vaults.values()) expect(runs.has(executionId)).toBe(false);
  });
});
