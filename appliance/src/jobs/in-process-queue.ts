import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
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

interface QueuedJob {
  id: string;
  name: JobName;
  data: unknown;
  attempt: number;
}

/**
 * The embedded default's queue: jobs live in this process only. What must survive a restart (batches) lives
 * in the database and is queued again at start-up, so losing this queue's memory loses no work.
 */
export class InProcessQueue implements JobQueue {
  readonly kind = 'in-process';
  private readonly handlers = new Map<JobName, JobHandler<JobName>>();
  private readonly waiting: QueuedJob[] = [];
  /** Ids queued, running or waiting to be retried: a second add of one of them is ignored. */
  private readonly known = new Set<string>();
  private readonly active = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private started = false;
  private closing = false;

  constructor(private readonly log: Logger) {}

  handle<N extends JobName>(name: N, handler: JobHandler<N>): void {
    this.handlers.set(name, handler as JobHandler<JobName>);
  }

  async start(): Promise<void> {
    this.started = true;
    this.pump();
  }

  async add<N extends JobName>(name: N, data: JobData[N], options: { jobId?: string } = {}): Promise<void> {
    if (!this.handlers.has(name)) throw new JobQueueError('UNKNOWN_JOB', `no handler for job "${name}".`);
    const id = options.jobId ?? randomUUID();
    if (this.closing || this.known.has(id)) return;
    this.known.add(id);
    this.waiting.push({ id, name, data, attempt: 1 });
    this.pump();
  }

  async every<N extends JobName>(name: N, intervalMs: number, data: JobData[N]): Promise<void> {
    // A tick while the previous run still goes is skipped, as the repeat id is still known.
    const timer = setInterval(() => void this.add(name, data, { jobId: `repeat:${name}` }), intervalMs);
    timer.unref();
    this.timers.add(timer);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.waiting.length = 0;
    for (const run of this.active.values()) run.controller.abort(new Error('the relay is shutting down'));
    await Promise.all([...this.active.values()].map((run) => run.done));
  }

  private pump(): void {
    while (this.started && !this.closing && this.active.size < JOB_CONCURRENCY && this.waiting.length) {
      const job = this.waiting.shift()!;
      const controller = new AbortController();
      const done = this.run(job, controller.signal).finally(() => {
        this.active.delete(job.id);
        this.pump();
      });
      this.active.set(job.id, { controller, done });
    }
  }

  private async run(job: QueuedJob, signal: AbortSignal): Promise<void> {
    const policy = JOB_POLICY[job.name];
    const finalAttempt = job.attempt >= policy.attempts;
    try {
      await this.handlers.get(job.name)!(job.data as never, {
        jobId: job.id,
        attempt: job.attempt,
        finalAttempt,
        signal,
      });
      this.known.delete(job.id);
    } catch (err) {
      if (err instanceof JobHandedBack || this.closing) {
        this.known.delete(job.id);
        return;
      }
      this.log.warn(
        { job: job.name, jobId: job.id, attempt: job.attempt, reason: (err as Error).message },
        finalAttempt ? 'job failed for good' : 'job failed; it will be tried again',
      );
      if (finalAttempt) {
        this.known.delete(job.id);
        return;
      }
      const retry = setTimeout(
        () => {
          this.timers.delete(retry);
          this.waiting.push({ ...job, attempt: job.attempt + 1 });
          this.pump();
        },
        policy.backoffMs * 2 ** (job.attempt - 1),
      );
      retry.unref();
      this.timers.add(retry);
    }
  }
}
