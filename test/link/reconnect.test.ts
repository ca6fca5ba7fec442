import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { enroll, runOperator } from '@dropops/operator';
import { tempDir } from '../helpers.ts';
import { capturedLogger, eventually, startTestAppliance, type TestAppliance } from '../support/appliance.ts';

const host = 'c3'.repeat(32);

describe('an operator whose relay goes away', () => {
  const work = tempDir();
  let relay: TestAppliance | undefined;
  afterAll(async () => {
    await relay?.stop();
    work.remove();
  });

  it('keeps retrying with backoff and reconnects when the relay is back, without crashing', async () => {
    relay = await startTestAppliance('pglite');
    const { apiKey, operator } = await relay.admin.call<{ apiKey: string; operator: { id: string } }>(
      'POST',
      '/api/operators',
      {
        org: 'acme',
        name: 'flaky',
      },
    );
    const dir = join(work.path, 'state');
    await enroll({ relay: relay.url, apiKey, caPin: relay.caPin, dir, fingerprint: host });
    const controller = new AbortController();
    const { logger, lines } = capturedLogger('operator');
    let connections = 0;
    const outcome = runOperator({
      dir,
      log: logger,
      fingerprint: host,
      signal: controller.signal,
      onConnected: () => connections++,
    });
    await eventually(() => connections === 1, 'the first connection');

    // Take the relay down and bring it back on the same port and data dir.
    const { port, dataDir } = relay;
    await relay.close();
    await eventually(
      () => lines.some((l) => l.msg.startsWith('cannot connect to the relay')),
      'a failed reconnection attempt',
    );
    const { startAppliance, loadConfig } = await import('@dropops/appliance');
    const revived = await startAppliance(loadConfig({ dataDir, port }, {}), {
      logger: capturedLogger('appliance').logger,
    });
    relay = Object.assign(revived, {
      dataDir,
      admin: relay.admin,
      logs: [],
      stop: () => revived.close(),
    }) as TestAppliance;
    await eventually(() => connections === 2, 'the operator to reconnect', 45_000);
    expect(revived.hub.isConnected(operator.id)).toBe(true);
    controller.abort();
    await expect(outcome).resolves.toBe('interrupted');
  });
});
