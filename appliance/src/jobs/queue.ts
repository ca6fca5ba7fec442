/** What each job carries. Job data may come back from Redis, so every handler parses it again. */
export interface JobData {
  /** Runs (or resumes) one approved batch until it ends. */
  batch: { batchId: string };
  /** Marks slots whose operator certificate is about to lapse or has lapsed. */
  'certificate-sweep': Record<string, never>;
  /** Runs every registered clean-up task (nonces now; sessions register theirs later). */
  cleanup: Record<string, never>;
}
export type JobName = keyof JobData;

export interface JobContext {
  jobId: string;
  /** 1 for the first try. */
  attempt: number;
  /** True when a failure now is final: the queue will not try this job again. */
  finalAttempt: boolean;
  /** Aborted when this relay shuts down; the handler then stops where it can resume and throws JobHandedBack. */
  signal: AbortSignal;
}

export type JobHandler<N extends JobName> = (data: JobData[N], context: JobContext) => Promise<void>;

/**
 * How often a job is tried and how long the queue waits between tries, the same on both queues. A batch is
 * tried many times because each try resumes where the last one stopped and never sends a step twice.
 */
export const JOB_POLICY: Record<JobName, { attempts: number; backoffMs: number }> = {
  batch: { attempts: 8, backoffMs: 2_000 },
  'certificate-sweep': { attempts: 1, backoffMs: 0 },
  cleanup: { attempts: 1, backoffMs: 0 },
};

/** How many jobs one relay runs at once: batches are long and mostly wait on their hosts. */
export const JOB_CONCURRENCY = 16;

/**
 * A handler throws this after its signal aborted: the job is not finished and goes back to the queue for
 * this or another relay to resume; it does not count as a failed attempt.
 */
export class JobHandedBack extends Error {
  override name = 'JobHandedBack';
  constructor(readonly jobId: string) {
    super(`job ${jobId} was handed back to the queue because this relay is shutting down`);
  }
}

export class JobQueueError extends Error {
  override name = 'JobQueueError';
  constructor(
    readonly code: 'JOBS_UNAVAILABLE' | 'UNKNOWN_JOB',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The relay's background work. BullMQ on Redis when a Redis URL is configured (durable, shared by replicas,
 * a job abandoned by a dead replica is taken over after its lock lapses); an in-process queue otherwise.
 * Both run the same handlers with the same retry policy.
 */
export interface JobQueue {
  readonly kind: 'bullmq' | 'in-process';
  /** Registers the handler for one job name; every name must have one before start(). */
  handle<N extends JobName>(name: N, handler: JobHandler<N>): void;
  /** Starts taking jobs. */
  start(): Promise<void>;
  /** Queues a job; with a jobId, a job of that id that is still waiting or running is not queued again. */
  add<N extends JobName>(name: N, data: JobData[N], options?: { jobId?: string }): Promise<void>;
  /** Runs a job every intervalMs, once across all relays sharing the queue. */
  every<N extends JobName>(name: N, intervalMs: number, data: JobData[N]): Promise<void>;
  /** Stops taking jobs, hands running ones back (their handlers see the abort) and waits for them. */
  close(): Promise<void>;
}
