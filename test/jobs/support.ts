import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { AdminClient } from '@dropops/appliance';
import type { BatchView } from '@dropops/protocol';
import { enroll, runOperator } from '@dropops/operator';
import { queueNameFor } from '../../appliance/src/jobs/setup.ts';
import { openVault } from '../../operator/src/vault/index.ts';
import { capturedLogger, eventually } from '../support/appliance.ts';

/** A real operator on this machine: its own state dir, working directory and host fingerprint. */
export interface TestOperator {
  id: string;
  name: string;
  cwd: string;
  stateDir: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Creates a slot and enrolls an operator for it; `start()` dials the relay and waits for the link. With
 * `relays` (replicas) it dials them in turn, so it fails over when the one it is on dies.
 */
export async function addOperator(
  admin: AdminClient,
  relay: { url: string; caPin: string },
  workDir: string,
  name: string,
  org = 'acme',
  relays?: string[],
): Promise<TestOperator> {
  const { apiKey, operator } = await admin.call<{ apiKey: string; operator: { id: string } }>(
    'POST',
    '/api/operators',
    { org, name },
  );
  const stateDir = join(workDir, name, 'state');
  const cwd = join(workDir, name, 'srv');
  mkdirSync(cwd, { recursive: true });
  const fingerprint = createHash('sha256').update(name).digest('hex');
  await enroll({ relay: relay.url, apiKey, caPin: relay.caPin, dir: stateDir, fingerprint });
  let running: { controller: AbortController; outcome: Promise<unknown> } | undefined;
  return {
    id: operator.id,
    name,
    cwd,
    stateDir,
    async start() {
      const controller = new AbortController();
      let connected = false;
      const outcome = runOperator({
        dir: stateDir,
        log: capturedLogger(name).logger,
        fingerprint,
        signal: controller.signal,
        cwd,
        relays,
        onConnected: () => (connected = true),
      });
      outcome.catch(() => {});
      running = { controller, outcome };
      await eventually(() => connected, `operator ${name} to connect`, 60_000);
    },
    async stop() {
      running?.controller.abort();
      await running?.outcome.catch(() => {});
      running = undefined;
    },
  };
}

/** How often each execution id was started on this host, from its vault (the operator must be stopped). */
export function runsInVault(stateDir: string): Map<string, number> {
  const vault = openVault(stateDir, { create: false });
  const runs = new Map<string, number>();
  try {
    for (const event of vault.events()) {
      const payload = event.payload as { executionId?: string; sealOf?: string };
      if (event.type === 'CMD_EXEC' && payload.executionId && payload.sealOf === undefined)
        runs.set(payload.executionId, (runs.get(payload.executionId) ?? 0) + 1);
    }
  } finally {
    vault.close();
  }
  return runs;
}

export const getBatch = async (admin: AdminClient, id: string) =>
  (await admin.call<{ batch: BatchView }>('GET', `/api/batches/${id}`)).batch;

/** Polls the batch until it has ended. */
export function batchEnded(admin: AdminClient, id: string, limitMs = 90_000): Promise<BatchView> {
  return eventually(
    async () => {
      const batch = await getBatch(admin, id);
      return ['succeeded', 'failed', 'cancelled'].includes(batch.status) && batch;
    },
    `batch ${id} to end`,
    limitMs,
  );
}

/** Removes an appliance's job queue from the machine's Redis. */
export async function dropQueue(redisUrl: string, rootCertPem: string): Promise<void> {
  const queue = new Queue(queueNameFor(rootCertPem), { connection: { url: redisUrl }, prefix: 'dropops' });
  await queue.obliterate({ force: true });
  await queue.close();
}
