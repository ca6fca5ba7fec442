import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { BatchStatus } from '@dropops/protocol';
import type { BatchRunner } from '../batches/runner.ts';
import type { BatchStore } from '../batches/store.ts';
import type { Sql } from '../db/database.ts';
import { sweepCertificateExpiry } from '../operators/certificate-expiry.ts';
import type { ReplayGuard } from '../security/replay.ts';
import { BullQueue } from './bullmq-queue.ts';
import { CleanupTasks } from './cleanup.ts';
import { InProcessQueue } from './in-process-queue.ts';
import type { JobQueue } from './queue.ts';

export interface Jobs {
  queue: JobQueue;
  /** Modules with short-lived rows register their clean-up here (console sessions, for one). */
  cleanup: CleanupTasks;
  close(): Promise<void>;
}

/**
 * One queue per appliance: named after its root CA, so replicas (which share the CA) share the queue, and
 * appliances that share one Redis do not see each other's jobs.
 */
export function queueNameFor(rootCertPem: string): string {
  return `jobs-${createHash('sha256').update(rootCertPem).digest('hex').slice(0, 16)}`;
}

const BatchJob = z.object({ batchId: z.string().uuid() });

/**
 * Opens the queue (BullMQ with a Redis URL, in-process without), registers every handler, schedules the
 * sweeps, and queues again every batch the database holds as unfinished: the database, not the queue, is the
 * record of what is left to do, so a queue that lost its memory (in-process, or a flushed Redis) loses nothing.
 */
export async function startJobs(deps: {
  redisUrl?: string;
  rootCertPem: string;
  sweepIntervalMs: number;
  sql: Sql;
  replay: ReplayGuard;
  batches: BatchStore;
  runner: BatchRunner;
  log: Logger;
}): Promise<Jobs> {
  const log = deps.log.child({ component: 'jobs' });
  const queue: JobQueue = deps.redisUrl
    ? await BullQueue.open(deps.redisUrl, queueNameFor(deps.rootCertPem), log)
    : new InProcessQueue(log);
  const cleanup = new CleanupTasks(log);
  cleanup.register('request-nonces', () => deps.replay.prune());

  queue.handle('batch', (data, context) => deps.runner.run(BatchJob.parse(data).batchId, context));
  queue.handle('certificate-sweep', async () => {
    await sweepCertificateExpiry(deps.sql, log);
  });
  queue.handle('cleanup', async () => {
    await cleanup.run();
  });
  await queue.start();
  const seed = async (statuses: BatchStatus[]) => {
    await queue.every('certificate-sweep', deps.sweepIntervalMs, {});
    await queue.every('cleanup', deps.sweepIntervalMs, {});
    for (const batchId of await deps.batches.unfinished(statuses))
      await queue.add('batch', { batchId }, { jobId: batchId });
  };
  await seed(['queued', 'running']);
  // Redis back after an outage, maybe empty (restarted without persistence): the sweeps are scheduled again
  // and batches not yet started queued again (no-ops for what Redis kept). A running batch is not: its
  // runner is still at work in some relay's memory, and a second runner would race it for each step.
  if (queue instanceof BullQueue)
    queue.onReconnected(
      () =>
        void seed(['queued']).then(
          () => log.info('Redis is back; sweeps scheduled and unfinished batches queued again'),
          (err: Error) =>
            log.warn({ reason: err.message }, 'could not queue the jobs again after Redis came back'),
        ),
    );
  log.info({ queue: queue.kind }, 'jobs started');
  return { queue, cleanup, close: () => queue.close() };
}
