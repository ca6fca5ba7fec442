import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { urlWithoutPassword } from '../security/secrets.ts';
import {
  JOB_CONCURRENCY,
  JOB_POLICY,
  JobHandedBack,
  JobQueueError,
  type JobData,
  type JobHandler,
  type JobName,
  type JobQueue,
} from './queue.ts';

/**
 * A running job holds a lock that its worker renews every half lockDuration. When a relay dies the lock lapses,
 * and another relay's stalled-job check (every stalledInterval) puts the job back in the queue, where it is
 * resumed. A batch may be taken over several times, so maxStalledCount is generous.
 */
const WORKER_TIMING = { lockDuration: 20_000, stalledInterval: 10_000, maxStalledCount: 20 };
const CONNECT_TIMEOUT_MS = 10_000;
const KEY_PREFIX = 'dropops';

async function connect(url: string, log: Logger): Promise<Redis> {
  // BullMQ needs maxRetriesPerRequest: null so that blocking commands survive a Redis restart.
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
  });
  redis.on('error', (err: Error) =>
    log.warn({ code: 'REDIS_ERROR', reason: err.message }, 'Redis connection problem'),
  );
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new JobQueueError(
      'JOBS_UNAVAILABLE',
      `cannot reach Redis at ${urlWithoutPassword(url)} (${(err as Error).message}); start Redis, or unset REDIS_URL to run jobs in process.`,
    );
  }
  return redis;
}

/** Jobs on Redis through BullMQ: durable across restarts and shared by every relay replica of one appliance. */
export class BullQueue implements JobQueue {
  readonly kind = 'bullmq';
  private readonly handlers = new Map<JobName, JobHandler<JobName>>();
  private worker?: Worker;
  private closing = false;

  private constructor(
    private readonly queue: Queue,
    private readonly connections: Redis[],
    private readonly log: Logger,
  ) {}

  /** `name` keeps appliances that share one Redis apart; replicas of one appliance use the same name. */
  static async open(url: string, name: string, log: Logger): Promise<BullQueue> {
    const connection = await connect(url, log);
    const queue = new Queue(name, { connection, prefix: KEY_PREFIX });
    queue.on('error', (err) => log.warn({ code: 'JOBS_ERROR', reason: err.message }, 'job queue problem'));
    return new BullQueue(queue, [connection], log);
  }

  /**
   * Calls `listener` each time the connection to Redis is back after a loss. A Redis that restarted without
   * persistence comes back empty, without the job schedulers and the queued jobs: the listener puts them back.
   */
  onReconnected(listener: () => void): void {
    this.connections[0]!.on('ready', listener);
  }

  handle<N extends JobName>(name: N, handler: JobHandler<N>): void {
    this.handlers.set(name, handler as JobHandler<JobName>);
  }

  async start(): Promise<void> {
    this.worker = new Worker(this.queue.name, (job, token, signal) => this.process(job, token, signal), {
      // The worker duplicates this connection for its blocking reads.
      connection: this.connections[0]!,
      prefix: KEY_PREFIX,
      concurrency: JOB_CONCURRENCY,
      ...WORKER_TIMING,
    });
    this.worker.on('error', (err) =>
      this.log.warn({ code: 'JOBS_ERROR', reason: err.message }, 'job worker problem'),
    );
    this.worker.on('failed', (job, err) =>
      this.log.warn(
        { job: job?.name, jobId: job?.id, attempt: job?.attemptsMade, reason: err.message },
        'job failed',
      ),
    );
    this.worker.on('stalled', (jobId) =>
      this.log.warn({ jobId }, 'a job lost its relay (lock lapsed); it is queued again to resume'),
    );
    await this.worker.waitUntilReady();
  }

  async add<N extends JobName>(name: N, data: JobData[N], options: { jobId?: string } = {}): Promise<void> {
    if (!this.handlers.has(name)) throw new JobQueueError('UNKNOWN_JOB', `no handler for job "${name}".`);
    // While Redis is away a command would wait for it, and the caller with it: refuse at once instead.
    if (this.connections[0]!.status !== 'ready')
      throw new JobQueueError('JOBS_UNAVAILABLE', 'Redis does not answer; the job waits until it is back.');
    const policy = JOB_POLICY[name];
    await this.queue.add(name, data, {
      jobId: options.jobId,
      attempts: policy.attempts,
      backoff: policy.backoffMs ? { type: 'exponential', delay: policy.backoffMs } : undefined,
      removeOnComplete: true,
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  async every<N extends JobName>(name: N, intervalMs: number, data: JobData[N]): Promise<void> {
    // One scheduler per job name in Redis: replicas upsert the same one, so the job runs once per interval.
    await this.queue.upsertJobScheduler(
      name,
      { every: intervalMs },
      { name, data, opts: { removeOnComplete: true, removeOnFail: 50 } },
    );
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.worker) {
      const closed = this.worker.close();
      // Running handlers see the abort, stop at a point they can resume from and hand their job back.
      this.worker.cancelAllJobs('the relay is shutting down');
      await closed;
    }
    await this.queue.close();
    for (const connection of this.connections) connection.disconnect();
  }

  private async process(job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    const handler = this.handlers.get(job.name as JobName);
    if (!handler) throw new UnrecoverableError(`no handler for job "${job.name}"`);
    const attempt = job.attemptsMade + 1;
    // A fetch already under way when close() began can still deliver a job: hand it straight back.
    if (this.closing) return this.handBack(job, token);
    try {
      await handler(job.data as never, {
        jobId: job.id!,
        attempt,
        finalAttempt: attempt >= (job.opts.attempts ?? 1),
        signal: signal ?? new AbortController().signal,
      });
    } catch (err) {
      if (!(err instanceof JobHandedBack)) throw err;
      return this.handBack(job, token);
    }
  }

  /** Back to the waiting list, as it was: this does not count as an attempt. */
  private async handBack(job: Job, token: string | undefined): Promise<never> {
    await job.moveToWait(token);
    throw new WaitingError();
  }
}
