import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import {
  createCsr,
  generateKeyPair,
  initCa,
  issueServerCertificate,
  revokeSerials,
  signOperatorCsr,
  caFiles,
} from '@dropops/pki';
import {
  freshNonce,
  MAX_FRAME_BYTES,
  OPERATOR_NAMESPACE,
  OperatorEvents,
  type OperatorSlot,
} from '@dropops/protocol';
import {
  enroll,
  fetchPinnedRoot,
  OperatorError,
  parseRelayUrl,
  pinnedTlsOptions,
  postJson,
  readEnrollment,
  runOperator,
  stateFiles,
} from '@dropops/operator';
import { bin, tempDir } from '../helpers.ts';
import { capturedLogger, eventually, startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { backends } from '../support/services.ts';

const run = promisify(execFile);
const hostA = 'a1'.repeat(32);
const hostB = 'b2'.repeat(32);

describe.each(backends())('operator link on %s', (backend) => {
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

  const newSlot = async () => {
    counter += 1;
    return relay.admin.call<{ operator: OperatorSlot; apiKey: string }>('POST', '/api/operators', {
      org: 'acme',
      name: `host-${counter}`,
    });
  };
  const stateDir = () => join(work.path, `state-${++counter}`);
  const enrolled = async (fingerprint = hostA) => {
    const slot = await newSlot();
    const dir = stateDir();
    await enroll({ relay: relay.url, apiKey: slot.apiKey, caPin: relay.caPin, dir, fingerprint });
    return { ...slot, dir };
  };
  /** Starts an operator in this process and resolves once it is connected. */
  const running = async (dir: string, fingerprint = hostA) => {
    const controller = new AbortController();
    const { logger, lines } = capturedLogger('operator');
    let connections = 0;
    const outcome = runOperator({
      dir,
      log: logger,
      fingerprint,
      signal: controller.signal,
      onConnected: () => connections++,
    });
    outcome.catch(() => {});
    await eventually(() => connections > 0, 'the operator to connect');
    return { outcome, stop: () => controller.abort(), logs: lines, connections: () => connections };
  };
  /** A raw Socket.IO client on the operator namespace with the given TLS credentials. */
  const rawSocket = (tls: Record<string, unknown>): Socket =>
    io(`${relay.url}${OPERATOR_NAMESPACE}`, { transports: ['websocket'], reconnection: false, ...tls });
  const connectOutcome = (socket: Socket) =>
    new Promise<{ connected: boolean; code?: string; message?: string }>((resolve) => {
      socket.on('connect', () => resolve({ connected: true }));
      socket.on('connect_error', (err: Error & { data?: { code: string } }) =>
        resolve({ connected: false, code: err.data?.code, message: err.message }),
      );
    });
  const operatorTls = (dir: string) => {
    const { enrollment, credentials } = readEnrollment(dir);
    return {
      ...pinnedTlsOptions(parseRelayUrl(enrollment.relay), credentials.rootPem, enrollment.caPin),
      key: credentials.keyPem,
      cert: credentials.certPem,
    };
  };

  it('enrolls, connects outbound and answers a ping with its host facts', async () => {
    const slot = await enrolled();
    const files = stateFiles(slot.dir);
    for (const file of [files.key, files.cert]) expect(existsSync(file)).toBe(true);
    const operator = await running(slot.dir);
    const ping = await relay.admin.call<{
      facts: { hostname: string; nodeVersion: string };
      roundTripMs: number;
    }>('POST', `/api/operators/${slot.operator.id}/ping`);
    expect(ping.facts.hostname).toBe(hostname());
    expect(ping.facts.nodeVersion).toBe(process.versions.node);
    const list = await relay.admin.call<{ operators: OperatorSlot[] }>('GET', '/api/operators');
    expect(list.operators.find((o) => o.id === slot.operator.id)).toMatchObject({
      connected: true,
      fingerprint: hostA,
      keyState: 'active',
    });
    operator.stop();
    await expect(operator.outcome).resolves.toBe('interrupted');
    expect(existsSync(files.lock)).toBe(false);
  });

  it('refuses a wrong API key, a revoked one, and a key reused from another host until it is re-registered', async () => {
    const slot = await newSlot();
    const wrong = slot.apiKey.slice(0, -4) + (slot.apiKey.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    await expect(
      enroll({ relay: relay.url, apiKey: wrong, caPin: relay.caPin, dir: stateDir(), fingerprint: hostA }),
    ).rejects.toMatchObject({
      code: 'INVALID_API_KEY',
    });
    await expect(
      enroll({
        relay: relay.url,
        apiKey: 'not-a-key',
        caPin: relay.caPin,
        dir: stateDir(),
        fingerprint: hostA,
      }),
    ).rejects.toMatchObject({
      code: 'INVALID_API_KEY',
    });
    await enroll({
      relay: relay.url,
      apiKey: slot.apiKey,
      caPin: relay.caPin,
      dir: stateDir(),
      fingerprint: hostA,
    });
    await expect(
      enroll({
        relay: relay.url,
        apiKey: slot.apiKey,
        caPin: relay.caPin,
        dir: stateDir(),
        fingerprint: hostB,
      }),
    ).rejects.toMatchObject({
      code: 'FINGERPRINT_MISMATCH',
    });
    expect(relay.logs.some((l) => l.code === 'FINGERPRINT_MISMATCH')).toBe(true);

    const refreshed = await relay.admin.call<{ apiKey: string }>(
      'POST',
      `/api/operators/${slot.operator.id}/refresh-key`,
    );
    await expect(
      enroll({
        relay: relay.url,
        apiKey: slot.apiKey,
        caPin: relay.caPin,
        dir: stateDir(),
        fingerprint: hostB,
      }),
    ).rejects.toMatchObject({
      code: 'INVALID_API_KEY',
    });
    const moved = await enroll({
      relay: relay.url,
      apiKey: refreshed.apiKey,
      caPin: relay.caPin,
      dir: stateDir(),
      fingerprint: hostB,
    });
    expect(moved.operatorId).toBe(slot.operator.id);

    await relay.admin.call('POST', `/api/operators/${slot.operator.id}/revoke-key`);
    await expect(
      enroll({
        relay: relay.url,
        apiKey: refreshed.apiKey,
        caPin: relay.caPin,
        dir: stateDir(),
        fingerprint: hostB,
      }),
    ).rejects.toMatchObject({
      code: 'API_KEY_REVOKED',
    });
  });

  it('refuses a replayed enrollment and one whose clock is more than 5 minutes off', async () => {
    const slot = await newSlot();
    const address = parseRelayUrl(relay.url);
    const root = await fetchPinnedRoot(address, relay.caPin);
    const tls = pinnedTlsOptions(address, root, relay.caPin);
    const keys = generateKeyPair();
    const body = {
      apiKey: slot.apiKey,
      csr: createCsr(keys.privateKeyPem, keys.publicKeyPem, 'x'),
      fingerprint: hostA,
      ...freshNonce(),
    };
    await postJson(address, tls, '/api/enroll', body);
    await expect(postJson(address, tls, '/api/enroll', body)).rejects.toMatchObject({
      code: 'REPLAYED_REQUEST',
    });
    for (const offset of [6 * 60_000, -6 * 60_000]) {
      await expect(
        postJson(address, tls, '/api/enroll', { ...body, ...freshNonce(Date.now() + offset) }),
      ).rejects.toMatchObject({
        code: 'CLOCK_SKEW',
      });
    }
    expect(relay.logs.some((l) => l.code === 'REPLAYED_REQUEST')).toBe(true);
  });

  it('refuses malformed and oversized requests with typed errors and keeps serving', async () => {
    const address = parseRelayUrl(relay.url);
    const tls = pinnedTlsOptions(address, await fetchPinnedRoot(address, relay.caPin), relay.caPin);
    await expect(postJson(address, tls, '/api/enroll', { apiKey: 1, csr: 'nope' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    await expect(postJson(address, tls, '/api/enroll', { blob: 'x'.repeat(200_000) })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });

    const slot = await enrolled();
    const socket = rawSocket(operatorTls(slot.dir));
    expect(await connectOutcome(socket)).toEqual({ connected: true });
    const garbage = await socket.timeout(5_000).emitWithAck(OperatorEvents.renew, { csr: 42 });
    expect(garbage).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    const notFresh = await socket.timeout(5_000).emitWithAck(OperatorEvents.renew, {
      csr: '-----BEGIN CERTIFICATE REQUEST-----',
      ts: 1,
      nonce: 'x'.repeat(22),
    });
    expect(notFresh).toMatchObject({ ok: false, error: { code: 'CLOCK_SKEW' } });
    const closed = new Promise<string>((resolve) => socket.on('disconnect', (reason) => resolve(reason)));
    socket.emit(OperatorEvents.renew, { csr: 'x'.repeat(MAX_FRAME_BYTES + 1) });
    expect(await closed).toMatch(/transport (close|error)/);
    const health = await postJson(address, tls, '/api/enroll', {}).catch((e: OperatorError) => e.code);
    expect(health).toBe('BAD_REQUEST');
  });

  it('refuses at the handshake a client without a certificate, one from a foreign CA, and an expired one', async () => {
    const address = parseRelayUrl(relay.url);
    const pinned = pinnedTlsOptions(address, await fetchPinnedRoot(address, relay.caPin), relay.caPin);
    const noCert = rawSocket(pinned);
    expect(await connectOutcome(noCert)).toMatchObject({ connected: false, code: 'CLIENT_CERT_REQUIRED' });
    noCert.close();

    const rogueDir = tempDir();
    try {
      const rogue = initCa(join(rogueDir.path, 'ca'), { trustDomain: relay.ca.trustDomain });
      const keys = generateKeyPair();
      const slot = await enrolled();
      const forged = signOperatorCsr(rogue, createCsr(keys.privateKeyPem, keys.publicKeyPem, 'x'), {
        org: 'acme',
        operatorId: slot.operator.id,
        fingerprint: hostA,
      });
      const before = relay.logs.length;
      const foreign = rawSocket({ ...pinned, key: keys.privateKeyPem, cert: forged.certificatePem });
      expect((await connectOutcome(foreign)).connected).toBe(false);
      foreign.close();
      expect(
        relay.logs
          .slice(before)
          .some((l) => l.code === 'TLS_CLIENT_REFUSED' || l.code === 'TLS_HANDSHAKE_FAILED'),
      ).toBe(true);

      const expired = signOperatorCsr(relay.ca, createCsr(keys.privateKeyPem, keys.publicKeyPem, 'x'), {
        org: 'acme',
        operatorId: slot.operator.id,
        fingerprint: hostA,
        lifetimeHours: -0.01,
      });
      await relay.slots.recordCertificate(slot.operator.id, expired.serial, hostA, expired.notAfter);
      const stale = rawSocket({ ...pinned, key: keys.privateKeyPem, cert: expired.certificatePem });
      expect((await connectOutcome(stale)).connected).toBe(false);
      stale.close();
      expect(
        relay.logs.some((l) => l.code === 'TLS_CLIENT_REFUSED' && String(l.reason).includes('EXPIRED')),
      ).toBe(true);

      // The operator itself refuses to dial with an expired certificate and says what to do.
      const files = stateFiles(slot.dir);
      writeFileSync(files.key, keys.privateKeyPem);
      writeFileSync(files.cert, expired.certificatePem);
      await expect(
        runOperator({ dir: slot.dir, log: capturedLogger('operator').logger, fingerprint: hostA }),
      ).rejects.toMatchObject({
        code: 'CERT_EXPIRED',
      });
    } finally {
      rogueDir.remove();
    }
  });

  it('never talks to a relay whose certificate does not chain to the pinned CA', async () => {
    const rogueDir = tempDir();
    const rogue = initCa(join(rogueDir.path, 'ca'));
    const server = issueServerCertificate(rogue, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    let bytesReceived = 0;
    const mitm = createTlsServer(
      { key: server.privateKeyPem, cert: server.certificatePem + rogue.issuingCertPem + rogue.rootCertPem },
      (socket) => {
        socket.on('data', (chunk: Buffer) => (bytesReceived += chunk.length));
        socket.on('error', () => {});
      },
    );
    await new Promise<void>((resolve) => mitm.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(mitm.address() as { port: number }).port}`;
    try {
      const slot = await newSlot();
      await expect(
        enroll({ relay: url, apiKey: slot.apiKey, caPin: relay.caPin, dir: stateDir(), fingerprint: hostA }),
      ).rejects.toMatchObject({
        code: 'PIN_MISMATCH',
      });
      // An enrolled operator pointed at the impostor fails the TLS check and never connects.
      const real = await enrolled();
      const tls = pinnedTlsOptions(
        parseRelayUrl(url),
        readEnrollment(real.dir).credentials.rootPem,
        relay.caPin,
      );
      const socket = io(`${url}${OPERATOR_NAMESPACE}`, {
        transports: ['websocket'],
        reconnection: false,
        ...tls,
      });
      expect((await connectOutcome(socket)).connected).toBe(false);
      socket.close();
      expect(bytesReceived).toBe(0);
    } finally {
      mitm.close();
      rogueDir.remove();
    }
  });

  it('cuts a live operator off at once when its key is revoked, and it cannot reconnect', async () => {
    const slot = await enrolled();
    const operator = await running(slot.dir);
    await relay.admin.call('POST', `/api/operators/${slot.operator.id}/revoke-key`);
    await eventually(() => !relay.hub.isConnected(slot.operator.id), 'the relay to drop the operator');
    await expect(operator.outcome).rejects.toMatchObject({
      code: expect.stringMatching(/^(CERT_REVOKED|API_KEY_REVOKED)$/),
    });
    expect(operator.connections()).toBe(1);
  });

  it('cuts a live operator off when its key is refreshed, and when its certificate is revoked by serial', async () => {
    const first = await enrolled();
    const a = await running(first.dir);
    await relay.admin.call('POST', `/api/operators/${first.operator.id}/refresh-key`);
    await expect(a.outcome).rejects.toBeInstanceOf(OperatorError);
    expect(a.connections()).toBe(1);

    const second = await enrolled();
    const b = await running(second.dir);
    const serial = (
      await relay.db.sql<
        { serial: string }[]
      >`SELECT serial FROM operator_certificates WHERE operator_id = ${second.operator.id}`
    )[0]!.serial;
    await relay.admin.call('POST', `/api/certificates/${serial}/revoke`);
    await expect(b.outcome).rejects.toMatchObject({ code: 'CERT_REVOKED' });

    // `dropops-pki revoke` edits the CA's list on disk; the relay notices and cuts the holder off.
    const third = await enrolled();
    const c = await running(third.dir);
    const thirdSerial = (
      await relay.db.sql<
        { serial: string }[]
      >`SELECT serial FROM operator_certificates WHERE operator_id = ${third.operator.id}`
    )[0]!.serial;
    revokeSerials(caFiles(relay.ca.dir).dir, [thirdSerial]);
    await expect(c.outcome).rejects.toMatchObject({ code: 'CERT_REVOKED' });
  });

  it('renews its certificate before expiry and reconnects with the new one', async () => {
    const slot = await enrolled();
    const files = stateFiles(slot.dir);
    const keys = generateKeyPair();
    const shortLived = signOperatorCsr(relay.ca, createCsr(keys.privateKeyPem, keys.publicKeyPem, 'x'), {
      org: 'acme',
      operatorId: slot.operator.id,
      fingerprint: hostA,
      lifetimeHours: 4 / 3600,
    });
    await relay.slots.recordCertificate(slot.operator.id, shortLived.serial, hostA, shortLived.notAfter);
    writeFileSync(files.key, keys.privateKeyPem);
    writeFileSync(files.cert, shortLived.certificatePem);
    const operator = await running(slot.dir);
    await eventually(() => operator.connections() >= 2, 'the operator to renew and reconnect');
    const renewed = readEnrollment(slot.dir).credentials.certPem;
    expect(renewed).not.toBe(shortLived.certificatePem);
    const serials = await relay.db.sql<
      { serial: string }[]
    >`SELECT serial FROM operator_certificates WHERE operator_id = ${slot.operator.id}`;
    expect(serials.length).toBe(3);
    const ping = await relay.admin.call<{ facts: { hostname: string } }>(
      'POST',
      `/api/operators/${slot.operator.id}/ping`,
    );
    expect(ping.facts.hostname).toBe(hostname());
    operator.stop();
    await operator.outcome;
  });

  it('runs as a CLI that listens on no port and exits cleanly on a remote stop', async () => {
    const slot = await newSlot();
    const cwd = join(work.path, `cli-${++counter}`);
    mkdirSync(cwd);
    const enrolledCli = await run(
      bin('dropops-operator'),
      ['enroll', '--relay', relay.url, '--api-key', slot.apiKey, '--ca-pin', relay.caPin],
      { cwd },
    );
    expect(enrolledCli.stdout).toContain('enrolled as acme/');
    const child = spawn(bin('dropops-operator'), ['run'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await eventually(() => relay.hub.isConnected(slot.operator.id), 'the CLI operator to connect', 30_000);

    const { stdout } = await run('ss', ['-Hltunp']);
    const pids = new Set([...stdout.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])));
    // The bin is the node process itself (tsx loads in-process), so its pid is the whole operator.
    expect(pids.has(child.pid!)).toBe(false);
    expect(pids.has(process.pid)).toBe(true); // the check can see listeners: this test process runs the relay

    await relay.admin.call('POST', `/api/operators/${slot.operator.id}/stop`);
    expect(await exited).toBe(0);
    expect(existsSync(join(cwd, '.dropops', 'run.lock'))).toBe(false);
    await eventually(() => !relay.hub.isConnected(slot.operator.id), 'the relay to see the operator leave');
  });
});
