import { OperatorEvents, type RelayDraining } from '@dropops/protocol';
import type { Logger } from 'pino';
import type { Namespace, Socket } from 'socket.io';
import type { Readiness } from '../observability/readiness.ts';
import type { InFlightRequests } from './in-flight.ts';

/**
 * Work of its own a part of the relay finishes, or hands back, before the relay closes (a job worker
 * pausing and returning its jobs, say). It should settle by `deadline` (epoch ms); the drain stops waiting
 * for it then.
 */
export type DrainHandler = (deadline: number) => Promise<void>;

/** How long an operator waits before it dials again; it adds up to half of it again as jitter. */
export const DRAIN_RETRY_AFTER_MS = 1_000;
const POLL_MS = 50;

export interface DrainReport {
  /** Whether everything finished within the grace period; otherwise the counts say what was cut. */
  clean: boolean;
  operatorsTold: number;
  left: { operators: number; requests: number; runs: number; handlers: number };
}

interface Deps {
  readiness: Readiness;
  /** The operator namespace: its sockets are the operators connected to this replica. */
  operators: Namespace;
  requests: InFlightRequests;
  /** How many runs this replica is waiting on (sent by its callers or its jobs). */
  pendingRuns: () => number;
  log: Logger;
}

/**
 * Graceful shutdown of one replica. It reports not ready (the load balancer stops sending new work), tells
 * every operator to reconnect elsewhere (the operator first reports the runs it is still busy with), then
 * waits, up to the grace period, for in-flight HTTP requests, runs, drain handlers and operators to be gone.
 * Operators that connect while it drains (the load balancer has not noticed yet) are told at once.
 */
export class Drain {
  private readonly handlers: DrainHandler[] = [];
  private running: Promise<DrainReport> | null = null;
  private told = 0;

  constructor(private readonly deps: Deps) {
    deps.operators.on('connection', (socket: Socket) => {
      if (this.running) this.tell(socket);
    });
  }

  /** Registers work to finish before the relay closes; handlers run together when the drain starts. */
  onDrain(handler: DrainHandler): void {
    this.handlers.push(handler);
  }

  get started(): boolean {
    return this.running !== null;
  }

  /** Starts the drain (once; later calls get the same outcome) and resolves when it is over. */
  run(graceMs: number): Promise<DrainReport> {
    this.running ??= this.drain(graceMs);
    return this.running;
  }

  private tell(socket: Socket): void {
    const notice: RelayDraining = {
      retryAfterMs: DRAIN_RETRY_AFTER_MS,
      reason: 'this relay replica is shutting down',
    };
    socket.emit(OperatorEvents.draining, notice);
    this.told++;
  }

  private async drain(graceMs: number): Promise<DrainReport> {
    const deadline = Date.now() + graceMs;
    const { readiness, operators, requests, pendingRuns, log } = this.deps;
    readiness.markDraining();
    log.info(
      { graceMs, operators: operators.sockets.size },
      'draining: telling operators to reconnect elsewhere',
    );
    let handlersLeft = this.handlers.length;
    for (const handler of this.handlers) {
      handler(deadline)
        .catch((err: unknown) =>
          log.warn({ reason: (err as Error).message }, 'a drain step failed; the relay closes anyway'),
        )
        .finally(() => handlersLeft--);
    }
    for (const socket of operators.sockets.values()) this.tell(socket);

    const left = () => ({
      operators: operators.sockets.size,
      requests: requests.count,
      runs: pendingRuns(),
      handlers: handlersLeft,
    });
    let now = left();
    while (Object.values(now).some((n) => n > 0) && Date.now() < deadline) {
      // Unref'd: once the relay was closed at once (a second signal), this wait keeps no process alive.
      await new Promise((resolve) => setTimeout(resolve, POLL_MS).unref());
      now = left();
    }
    const clean = Object.values(now).every((n) => n === 0);
    if (clean) log.info({ operatorsTold: this.told }, 'drained: nothing left in flight');
    else log.warn({ left: now, graceMs }, 'the grace period ended with work in flight; closing anyway');
    return { clean, operatorsTold: this.told, left: now };
  }
}
