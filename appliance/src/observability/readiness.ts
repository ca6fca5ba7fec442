import type { Logger } from 'pino';

/** Resolves when the dependency answers; rejects (or hangs past the timeout) when it does not. */
export type ReadinessCheck = () => Promise<unknown>;

/** A check that takes longer than this counts as failing: a load balancer's probe must not hang. */
const CHECK_TIMEOUT_MS = 2_000;

export type ReadinessReport =
  | { ready: true; checks: Record<string, 'ok'> }
  | { ready: false; reason: string; checks: Record<string, 'ok' | 'failing' | 'skipped'> };

function withTimeout(check: ReadinessCheck): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  return Promise.race([check(), timeout]).finally(() => clearTimeout(timer));
}

/**
 * Whether this replica should get traffic: every registered dependency answers and it is not draining.
 * The report names the failing dependency but not why; the reason goes to the log, once per change, so a
 * probe every few seconds during an outage does not flood it.
 */
export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly failing = new Set<string>();
  private drainingSince: Date | null = null;

  constructor(private readonly log: Logger) {}

  /** Adds a dependency (database, Redis, a job queue…); the name appears in the report. */
  add(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  markDraining(): void {
    this.drainingSince ??= new Date();
  }

  get draining(): boolean {
    return this.drainingSince !== null;
  }

  async report(): Promise<ReadinessReport> {
    if (this.drainingSince) {
      const skipped = Object.fromEntries([...this.checks.keys()].map((name) => [name, 'skipped' as const]));
      return {
        ready: false,
        reason: `draining since ${this.drainingSince.toISOString()}: this replica is shutting down`,
        checks: skipped,
      };
    }
    const names = [...this.checks.keys()];
    const outcomes = await Promise.allSettled(names.map((name) => withTimeout(this.checks.get(name)!)));
    const checks: Record<string, 'ok' | 'failing'> = {};
    names.forEach((name, i) => {
      const outcome = outcomes[i]!;
      checks[name] = outcome.status === 'fulfilled' ? 'ok' : 'failing';
      this.noteChange(name, outcome);
    });
    const failing = names.filter((name) => checks[name] === 'failing');
    if (failing.length === 0) return { ready: true, checks: checks as Record<string, 'ok'> };
    return { ready: false, reason: `not answering: ${failing.join(', ')}`, checks };
  }

  private noteChange(name: string, outcome: PromiseSettledResult<unknown>): void {
    if (outcome.status === 'rejected' && !this.failing.has(name)) {
      this.failing.add(name);
      this.log.warn(
        { code: 'NOT_READY', check: name, reason: (outcome.reason as Error)?.message },
        `${name} does not answer; this replica reports not ready until it does`,
      );
    } else if (outcome.status === 'fulfilled' && this.failing.delete(name)) {
      this.log.info({ check: name }, `${name} answers again`);
    }
  }
}
