import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { BullQueue } from '../../appliance/src/jobs/bullmq-queue.ts';
import { InProcessQueue } from '../../appliance/src/jobs/in-process-queue.ts';
import { JobHandedBack, type JobContext, type JobQueue } from '../../appliance/src/jobs/queue.ts';
import { capturedLogger, eventually } from '../support/appliance.ts';
import { hasRedis } from '../support/services.ts';

interface Kind {
  name: 'in-process' | 'bullmq';
  open(queueName: string): Promise<JobQueue>;
}

const redisUrl = process.env.REDIS_URL!;
const queueNames: string[] = [];
const kinds: Kind[] = [
  { name: 'in-process', open: async () => new InProcessQueue(capturedLogger('jobs').logger) },
];
if (hasRedis())
  kinds.push({
    name: 'bullmq',
    open: (queueName) => BullQueue.open(redisUrl, queueName, capturedLogger('jobs').logger),
  });

afterAll(async () => {
  // Leave nothing of these queues in the machine's Redis.
  for (const name of queueNames) {
    const queue = new Queue(name, { connection: { url: redisUrl }, prefix: 'dropops' });
    await queue.obliterate({ force: true });
    await queue.close();
  }
});

/** A promise a test resolves by hand, to hold a handler in the middle of its run. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

// The same contract, with the same handlers, on both queues.
describe.each(kinds)('the $name job queue', (kind) => {
  const opened: JobQueue[] = [];
  const fresh = async () => {
    const name = `test-${randomBytes(6).toString('hex')}`;
    if (kind.name === 'bullmq') queueNames.push(name);
    const queue = await kind.open(name);
    opened.push(queue);
    return { queue, name };
  };
  afterAll(async () => {
    for (const queue of opened) await queue.close();
  });

  it('runs a job through its handler with its data, and a job id still queued or running only once', async () => {
    const { queue } = await fresh();
    const seen: { batchId: string; attempt: number }[] = [];
    const hold = gate();
    queue.handle('batch', async (data, context) => {
      seen.push({ batchId: data.batchId, attempt: context.attempt });
      await hold.opened;
    });
    queue.handle('cleanup', async () => {});
    queue.handle('certificate-sweep', async () => {});
    await queue.start();
    const batchId = '00000000-0000-4000-8000-000000000001';
    await queue.add('batch', { batchId }, { jobId: batchId });
    await eventually(() => seen.length === 1, 'the job to start');
    await queue.add('batch', { batchId }, { jobId: batchId });
    hold.open();
    // Once it has finished, the same id may be queued again.
    await eventually(async () => {
      await queue.add('batch', { batchId }, { jobId: batchId });
      return seen.length >= 2;
    }, 'the id to be free again');
    expect(seen[0]).toEqual({ batchId, attempt: 1 });
    expect(seen[1]).toEqual({ batchId, attempt: 1 });
  });

  it('tries a failed job again with the next attempt number', async () => {
    const { queue } = await fresh();
    const attempts: Pick<JobContext, 'attempt' | 'finalAttempt'>[] = [];
    queue.handle('batch', async (_data, { attempt, finalAttempt }) => {
      attempts.push({ attempt, finalAttempt });
      if (attempt === 1) throw new Error('the first try fails');
    });
    queue.handle('cleanup', async () => {});
    queue.handle('certificate-sweep', async () => {});
    await queue.start();
    await queue.add('batch', { batchId: '00000000-0000-4000-8000-000000000002' });
    await eventually(() => attempts.length === 2, 'the second attempt', 30_000);
    expect(attempts).toEqual([
      { attempt: 1, finalAttempt: false },
      { attempt: 2, finalAttempt: false },
    ]);
  });

  it('runs a repeatable job again and again', async () => {
    const { queue } = await fresh();
    let sweeps = 0;
    queue.handle('batch', async () => {});
    queue.handle('cleanup', async () => {});
    queue.handle('certificate-sweep', async () => {
      sweeps++;
    });
    await queue.start();
    await queue.every('certificate-sweep', 200, {});
    await eventually(() => sweeps >= 3, 'three sweeps', 30_000);
    expect(sweeps).toBeGreaterThanOrEqual(3);
  });

  it('hands a running job back on close: its handler sees the abort, and close waits for it', async () => {
    const { queue, name } = await fresh();
    const events: string[] = [];
    const handler = async (_data: { batchId: string }, context: JobContext) => {
      events.push(`start ${context.attempt}`);
      await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve()));
      events.push('aborted');
      throw new JobHandedBack(context.jobId);
    };
    queue.handle('batch', handler);
    queue.handle('cleanup', async () => {});
    queue.handle('certificate-sweep', async () => {});
    await queue.start();
    const batchId = '00000000-0000-4000-8000-000000000003';
    await queue.add('batch', { batchId }, { jobId: batchId });
    await eventually(() => events.length === 1, 'the job to start');
    await queue.close();
    expect(events).toEqual(['start 1', 'aborted']);
    if (kind.name !== 'bullmq') return;
    // On Redis the job went back to the queue, not to the failed set: the next relay resumes it.
    const next = await kind.open(name);
    opened.push(next);
    let resumed: number | undefined;
    next.handle('batch', async (_data, context) => {
      resumed = context.attempt;
    });
    next.handle('cleanup', async () => {});
    next.handle('certificate-sweep', async () => {});
    await next.start();
    expect(await eventually(() => resumed, 'another relay to resume the job', 30_000)).toBe(1);
  });
});
