import type { Logger } from 'pino';

/** One clean-up: deletes what has outlived its use and says how many rows went. */
export type CleanupTask = () => Promise<number>;

/**
 * The clean-up tasks the periodic `cleanup` job runs. Each module that keeps short-lived rows (nonces now,
 * console sessions later) registers its own task here; one failing task does not stop the others.
 */
export class CleanupTasks {
  private readonly tasks = new Map<string, CleanupTask>();

  constructor(private readonly log: Logger) {}

  register(name: string, task: CleanupTask): void {
    this.tasks.set(name, task);
  }

  names(): string[] {
    return [...this.tasks.keys()];
  }

  /** Runs every task; throws after all have run if any failed, so the queue records the failure. */
  async run(): Promise<Record<string, number>> {
    const removed: Record<string, number> = {};
    const failed: string[] = [];
    for (const [name, task] of this.tasks) {
      try {
        removed[name] = await task();
      } catch (err) {
        failed.push(name);
        this.log.warn({ task: name, reason: (err as Error).message }, 'clean-up task failed');
      }
    }
    this.log.debug({ removed }, 'clean-up done');
    if (failed.length) throw new Error(`clean-up tasks failed: ${failed.join(', ')}; see the log.`);
    return removed;
  }
}
