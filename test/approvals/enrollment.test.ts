import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signApproval } from '@dropops/appliance';
import { createCsr, generateKeyPair, initCa, signOperatorCsr } from '@dropops/pki';
import type { OperatorSlot } from '@dropops/protocol';
import {
  enroll,
  MemoryNonceStore,
  pinApprovalKeyOnRenewal,
  readApprovalKey,
  readEnrollment,
  runOperator,
  stateFiles,
  verifyApproval,
} from '@dropops/operator';
import { tempDir } from '../helpers.ts';
import { capturedLogger, eventually, startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { backends } from '../support/services.ts';

const host = 'c3'.repeat(32);

describe.each(backends())('approval key pinning on %s', (backend) => {
  let relay: TestAppliance;
  let work: ReturnType<typeof tempDir>;
  let counter = 0;

  beforeAll(async () => {
    relay = await startTestAppliance(backend);
    work = tempDir();
  });
  afterAll(async () => {
    await relay?.stop();
    work?.remove();
  });

  const enrolled = async () => {
    counter += 1;
    const slot = await relay.admin.call<{ operator: OperatorSlot; apiKey: string }>(
      'POST',
      '/api/operators',
      {
        org: 'acme',
        name: `pin-${counter}`,
      },
    );
    const dir = join(work.path, `state-${counter}`);
    await enroll({ relay: relay.url, apiKey: slot.apiKey, caPin: relay.caPin, dir, fingerprint: host });
    return { ...slot, dir };
  };
  const otherApplianceKey = () => initCa(join(work.path, `other-ca-${++counter}`)).approvalKey;

  it("saves the appliance's approval key at enrollment, and approvals verify against it", async () => {
    const slot = await enrolled();
    const path = stateFiles(slot.dir).approvalKey;
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readApprovalKey(slot.dir)).toBe(relay.ca.approvalKey.publicKeyPem);
    const command = 'systemctl reload nginx';
    const signed = await signApproval(relay.ca.approvalKey.privateKey, {
      operatorId: readEnrollment(slot.dir).enrollment.operatorId,
      command,
      approver: 'alice@example.com',
      executionId: randomUUID(),
    });
    const verified = await verifyApproval(signed.token, {
      operatorId: slot.operator.id,
      command,
      publicKeyPem: readApprovalKey(slot.dir),
      nonces: new MemoryNonceStore(),
    });
    expect(verified.approver).toBe('alice@example.com');
  });

  it('keeps the pinned key when a renewal presents another one', async () => {
    const slot = await enrolled();
    const files = stateFiles(slot.dir);
    const pinned = readFileSync(files.approvalKey, 'utf8');
    // A certificate that expires in seconds, so the operator renews while the test watches; long enough to
    // outlast the operator's start-up (vault, sandbox probe) on a loaded machine.
    const keys = generateKeyPair();
    const shortLived = signOperatorCsr(relay.ca, createCsr(keys.privateKeyPem, keys.publicKeyPem, 'x'), {
      org: 'acme',
      operatorId: slot.operator.id,
      fingerprint: host,
      lifetimeHours: 15 / 3600,
    });
    await relay.slots.recordCertificate(slot.operator.id, shortLived.serial, host, shortLived.notAfter);
    writeFileSync(files.key, keys.privateKeyPem);
    writeFileSync(files.cert, shortLived.certificatePem);

    // The relay now hands out another appliance's approval key, as a relay whose key was swapped would.
    const genuine = relay.ca.approvalKey;
    relay.ca.approvalKey = otherApplianceKey();
    const controller = new AbortController();
    const { logger, lines } = capturedLogger('operator');
    let connections = 0;
    const outcome = runOperator({
      dir: slot.dir,
      log: logger,
      fingerprint: host,
      signal: controller.signal,
      onConnected: () => connections++,
    });
    try {
      await eventually(() => connections >= 2, 'the operator to renew and reconnect', 40_000);
      expect(readEnrollment(slot.dir).credentials.certPem).not.toBe(shortLived.certificatePem);
      expect(lines.some((line) => line.code === 'APPROVAL_KEY_CHANGED')).toBe(true);
      expect(readFileSync(files.approvalKey, 'utf8')).toBe(pinned);
    } finally {
      relay.ca.approvalKey = genuine;
      controller.abort();
      await outcome;
    }
  });

  it('decides at renewal: pin when an older enrollment has none, keep the same key, refuse another', async () => {
    const slot = await enrolled();
    const path = stateFiles(slot.dir).approvalKey;
    const genuine = relay.ca.approvalKey.publicKeyPem;
    const other = otherApplianceKey().publicKeyPem;

    expect(pinApprovalKeyOnRenewal(slot.dir, genuine)).toBe('unchanged');
    // The same key in another PEM layout is still the same key.
    expect(pinApprovalKeyOnRenewal(slot.dir, genuine.replace(/\n/g, '\r\n'))).toBe('unchanged');
    expect(pinApprovalKeyOnRenewal(slot.dir, other)).toBe('refused');
    expect(pinApprovalKeyOnRenewal(slot.dir, 'not a key')).toBe('refused');
    expect(readFileSync(path, 'utf8')).toBe(genuine);

    rmSync(path);
    expect(() => readApprovalKey(slot.dir)).toThrowError(expect.objectContaining({ code: 'NOT_ENROLLED' }));
    expect(pinApprovalKeyOnRenewal(slot.dir, genuine)).toBe('pinned');
    expect(readApprovalKey(slot.dir)).toBe(genuine);
    expect(pinApprovalKeyOnRenewal(slot.dir, other)).toBe('refused');
  });

  it('replaces the pinned key only through a new enrollment', async () => {
    const slot = await enrolled();
    const path = stateFiles(slot.dir).approvalKey;
    writeFileSync(path, otherApplianceKey().publicKeyPem);
    const refreshed = await relay.admin.call<{ apiKey: string }>(
      'POST',
      `/api/operators/${slot.operator.id}/refresh-key`,
    );
    await enroll({
      relay: relay.url,
      apiKey: refreshed.apiKey,
      caPin: relay.caPin,
      dir: slot.dir,
      fingerprint: host,
      force: true,
    });
    expect(readApprovalKey(slot.dir)).toBe(relay.ca.approvalKey.publicKeyPem);
  });
});
