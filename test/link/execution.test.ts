import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecAccepted, type OperatorSlot } from '@dropops/protocol';
import { enroll, runOperator } from '@dropops/operator';
import { signApproval } from '../../appliance/src/approvals/tokens.ts';
import type { ExecOutcome } from '../../appliance/src/executions/service.ts';
import { openVault, verifyVault } from '../../operator/src/vault/index.ts';
import { tempDir } from '../helpers.ts';
import { capturedLogger, eventually, startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { backends } from '../support/services.ts';

const host = 'c3'.repeat(32);
const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');

describe.each(backends())('commands through the link on %s', (backend) => {
  let relay: TestAppliance;
  let work: ReturnType<typeof tempDir>;
  let slot: { operator: OperatorSlot; apiKey: string };
  let stateDir: string;
  let cwd: string;
  let stop: () => void;
  let outcome: Promise<unknown>;

  beforeAll(async () => {
    relay = await startTestAppliance(backend);
    work = tempDir();
    slot = await relay.admin.call('POST', '/api/operators', { org: 'acme', name: 'web-1' });
    stateDir = join(work.path, 'state');
    cwd = join(work.path, 'srv');
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'notes.txt'), 'hello from the host\n');
    await enroll({
      relay: relay.url,
      apiKey: slot.apiKey,
      caPin: relay.caPin,
      dir: stateDir,
      fingerprint: host,
    });
    const controller = new AbortController();
    let connected = 0;
    outcome = runOperator({
      dir: stateDir,
      log: capturedLogger('operator').logger,
      fingerprint: host,
      signal: controller.signal,
      cwd,
      onConnected: () => connected++,
    });
    outcome.catch(() => {});
    stop = () => controller.abort();
    await eventually(() => connected > 0, 'the operator to connect');
  });
  afterAll(async () => {
    stop?.();
    await outcome;
    await relay?.stop();
    work?.remove();
  });

  const exec = (command: string, approve = false) =>
    relay.admin.call<ExecOutcome>('POST', `/api/operators/${slot.operator.id}/exec`, { command, approve });
  const refusalOf = (promise: Promise<unknown>) =>
    promise.then(
      () => null,
      (err: { code?: string }) => err.code,
    );
  /** Sends an exec request straight through the hub, as a compromised relay could. */
  const rawExec = (command: string, approval?: string, executionId: string = randomUUID()) =>
    relay.hub.ask(slot.operator.id, { kind: 'exec', executionId, command, approval }, ExecAccepted);

  it('runs a read-only command at once and keeps only its metadata on the relay', async () => {
    const run = await exec('cat notes.txt');
    expect(run.mode).toBe('auto');
    expect(run.result).toMatchObject({ exitCode: 0, stdoutBytes: 20, stderrBytes: 0 });
    expect(run.result.sha256).toBe(sha256('hello from the host\n'));
    expect(run.modelOutput?.text).toBe('hello from the host\n');
    const [row] = await relay.db.sql<
      Record<string, unknown>[]
    >`SELECT * FROM executions WHERE id = ${run.executionId}`;
    expect(row).toMatchObject({ state: 'finished', exit_code: 0, output_sha256: run.result.sha256 });
    expect(JSON.stringify(row)).not.toContain('hello from the host');
    expect(row!.command_sha256).toBe(sha256('cat notes.txt'));
    // The relay's witness is the operator's vault head, and the vault verifies against it.
    const [witness] = await relay.db.sql<{ witness_seq: string; witness_hash: string }[]>`
      SELECT witness_seq, witness_hash FROM operator_slots WHERE id = ${slot.operator.id}`;
    expect(witness!.witness_hash).toBe(run.result.chainHead.hash);
  });

  it('needs an approval for a state change and runs it only with one', async () => {
    expect(await refusalOf(exec('touch made-by-approval'))).toBe('APPROVAL_REQUIRED');
    expect(existsSync(join(cwd, 'made-by-approval'))).toBe(false);
    const run = await exec('touch made-by-approval', true);
    expect(run.mode).toBe('approved');
    expect(run.result.exitCode).toBe(0);
    expect(existsSync(join(cwd, 'made-by-approval'))).toBe(true);
  });

  it('refuses what the policy denies, even approved', async () => {
    expect(await refusalOf(exec('sudo touch /etc/owned', true))).toBe('COMMAND_REFUSED');
  });

  it('refuses forged, mismatched and replayed approvals from a relay that lies', async () => {
    const other = generateKeyPairSync('ed25519').privateKey;
    const grant = (command: string, executionId: string) => ({
      operatorId: slot.operator.id,
      command,
      approver: 'mallory',
      executionId,
    });
    const forgedId = randomUUID();
    const forged = await signApproval(other, grant('touch forged', forgedId));
    expect(await refusalOf(rawExec('touch forged', forged.token, forgedId))).toBe('APPROVAL_REJECTED');

    const realId = randomUUID();
    const real = await signApproval(relay.ca.approvalKey.privateKey, grant('touch approved-one', realId));
    // The approval covers one exact command: another is refused.
    expect(await refusalOf(rawExec('touch approved-two', real.token, realId))).toBe('APPROVAL_REJECTED');
    await rawExec('touch approved-one', real.token, realId);
    await eventually(() => existsSync(join(cwd, 'approved-one')), 'the approved command to run');
    // Used once, it is spent: replayed for the same execution or for a new one, nothing runs.
    expect(await refusalOf(rawExec('touch approved-one', real.token, realId))).toBe('ALREADY_EXECUTED');
    expect(await refusalOf(rawExec('touch approved-one', real.token))).toBe('APPROVAL_REJECTED');
    expect(existsSync(join(cwd, 'forged'))).toBe(false);
    expect(existsSync(join(cwd, 'approved-two'))).toBe(false);
  });

  it('runs an execution id once when two relays send it at the same moment, each with a valid token', async () => {
    const executionId = randomUUID();
    const command = 'echo ran >> twice.log';
    const grant = { operatorId: slot.operator.id, command, approver: 'alice', executionId };
    // A resumed batch step: each relay signs its own token (its own nonce) for the same execution.
    const [first, second] = await Promise.all([
      signApproval(relay.ca.approvalKey.privateKey, grant),
      signApproval(relay.ca.approvalKey.privateKey, grant),
    ]);
    const outcomes = await Promise.all([
      refusalOf(rawExec(command, first.token, executionId)),
      refusalOf(rawExec(command, second.token, executionId)),
    ]);
    expect(outcomes.sort()).toEqual(['ALREADY_EXECUTED', null].sort());
    await eventually(
      () => existsSync(join(cwd, 'twice.log')) && readFileSync(join(cwd, 'twice.log'), 'utf8') === 'ran\n',
      'the approved command to run',
    );
    expect(await refusalOf(rawExec(command, first.token, executionId))).toBe('ALREADY_EXECUTED');
    expect(readFileSync(join(cwd, 'twice.log'), 'utf8')).toBe('ran\n');
  });

  it("answers history from the host's vault, redacted, and cancels a run in progress", async () => {
    await exec('echo password=Tr0ub4dor-and-3-more-words');
    const history = await relay.admin.call<{ events: { type: string; payload: unknown }[] }>(
      'POST',
      `/api/operators/${slot.operator.id}/history`,
      { limit: 50 },
    );
    const text = JSON.stringify(history.events);
    expect(history.events.some((e) => e.type === 'APPROVAL')).toBe(true);
    expect(text).toContain('[REDACTED:');
    expect(text).not.toContain('Tr0ub4dor-and-3-more-words');

    const running = exec('sleep 30', true);
    let id: string | undefined;
    await eventually(async () => {
      const { executions } = await relay.admin.call<{ executions: { id: string; state: string }[] }>(
        'GET',
        `/api/operators/${slot.operator.id}/executions`,
      );
      id = executions.find((e) => e.state === 'running')?.id;
      return Boolean(id);
    }, 'the run to start');
    await relay.admin.call('POST', `/api/executions/${id}/cancel`);
    const cancelled = await running;
    expect(cancelled.result.error?.code).toBe('CANCELLED');
    expect(cancelled.result.exitCode).toBeNull();
  });

  it('leaves a vault that verifies against the relay witness', async () => {
    stop();
    await outcome;
    const [witness] = await relay.db.sql<{ witness_seq: string; witness_hash: string }[]>`
      SELECT witness_seq, witness_hash FROM operator_slots WHERE id = ${slot.operator.id}`;
    const result = verifyVault(stateDir, {
      witness: { seq: Number(witness!.witness_seq), hash: witness!.witness_hash },
    });
    expect(result.ok).toBe(true);
    const vault = openVault(stateDir);
    try {
      expect([...vault.events({ type: 'DENIAL' })].length).toBeGreaterThanOrEqual(3);
    } finally {
      vault.close();
    }
  });
});
