import type { ExecResult } from '@dropops/protocol';
import type { Logger } from 'pino';
import { linkLost, type ExecutionTracker } from '../executions/tracker.ts';

export const LINK_WATCH_INTERVAL_MS = 2_000;
/** A result recorded this long ago that has not reached its waiting caller was lost on the way. */
const HANDOVER_GRACE_MS = 5_000;

export interface LinkWatchDeps {
  tracker: ExecutionTracker;
  /** The ones among these connections (socket ids) that some live replica holds. */
  liveLinks: (links: string[]) => Promise<Set<string>>;
  /** Results already recorded in the database for these runs, at least `settledForMs` ago. */
  recordedResults: (
    ids: string[],
    settledForMs: number,
  ) => Promise<{ operatorId: string; result: ExecResult }[]>;
  log: Logger;
}

/**
 * Ends the waits that nothing else would end across replicas. A connection on this replica fails its runs the
 * moment it closes; one on another replica that dies goes without a word, so this asks the live replicas,
 * every couple of seconds while anything waits, which connections they hold, and fails the runs of the
 * others. A result that another replica recorded but could not hand over (Redis was away) settles from the
 * database, without its model output.
 */
export class LinkWatch {
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;

  constructor(private readonly deps: LinkWatchDeps) {}

  start(intervalMs = LINK_WATCH_INTERVAL_MS): void {
    this.timer = setInterval(() => void this.sweep(), intervalMs);
    this.timer.unref();
  }

  async sweep(): Promise<void> {
    const { tracker, log } = this.deps;
    const links = tracker.links();
    if (this.sweeping || links.length === 0) return;
    this.sweeping = true;
    try {
      for (const { operatorId, result } of await this.deps.recordedResults(
        tracker.waitingIds(),
        HANDOVER_GRACE_MS,
      ))
        tracker.settle(operatorId, result, null);
      const live = await this.deps.liveLinks(links);
      for (const link of links) if (!live.has(link)) tracker.failLink(link, linkLost());
    } catch (err) {
      // Cannot tell now (Redis or the database away, a replica slow to answer): wait rather than fail live runs.
      log.warn({ reason: (err as Error).message }, 'could not check the runs waiting on other replicas');
    } finally {
      this.sweeping = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
