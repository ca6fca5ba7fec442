import { ExecResult, OperatorEvents } from '@dropops/protocol';
import type { Middleware } from 'koa';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Namespace, Socket } from 'socket.io';

/**
 * Event names become label values only when they are ours, so an operator sending made-up events cannot
 * grow the number of series without bound.
 */
const KNOWN_EVENTS = new Set<string>(Object.values(OperatorEvents));
const eventLabel = (event: string) => (KNOWN_EVENTS.has(event) ? event : 'other');

/** A request that matched no route is one series, not one per path: paths carry slot names and ids. */
function routeLabel(ctx: object): string {
  const route = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  return typeof route === 'string' ? route : 'unmatched';
}

/** How a run ended, from the operator's result: exit status, or the code of the error that ended it. */
export function executionOutcome(result: ExecResult): string {
  if (result.error) return result.error.code.toLowerCase();
  return result.exitCode === 0 ? 'succeeded' : 'failed';
}

/**
 * The relay's Prometheus metrics, in a registry of its own (several relays can share one test process).
 * Labels never carry slot names, hostnames, ids or paths: only routes as written in the router, event names,
 * modes, outcomes and status codes.
 */
export class ApplianceMetrics {
  readonly registry = new Registry();
  private readonly connects: Counter;
  private readonly disconnects: Counter<'reason'>;
  private readonly executionsSent: Counter<'mode'>;
  private readonly executions: Counter<'mode' | 'outcome'>;
  private readonly approvals: Counter;
  private readonly socketEvents: Counter<'direction' | 'event'>;
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;

  constructor(connectedOperators: () => number) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'dropops_operators_connected',
      help: 'Operators connected to this replica.',
      registers,
      collect() {
        this.set(connectedOperators());
      },
    });
    this.connects = new Counter({
      name: 'dropops_operator_connects_total',
      help: 'Operator connections accepted (after the certificate and slot checks).',
      registers,
    });
    this.disconnects = new Counter({
      name: 'dropops_operator_disconnects_total',
      help: 'Operator connections ended, by Socket.IO disconnect reason.',
      labelNames: ['reason'],
      registers,
    });
    this.executionsSent = new Counter({
      name: 'dropops_executions_sent_total',
      help: 'Commands sent to operators on this replica; mode is "approved" when an approval token went with it.',
      labelNames: ['mode'],
      registers,
    });
    this.executions = new Counter({
      name: 'dropops_executions_total',
      help: 'Runs finished by operators on this replica, by mode and outcome (succeeded, failed, or the error code).',
      labelNames: ['mode', 'outcome'],
      registers,
    });
    this.approvals = new Counter({
      name: 'dropops_approval_tokens_signed_total',
      help: 'Approval tokens this replica signed.',
      registers,
    });
    this.socketEvents = new Counter({
      name: 'dropops_socket_events_total',
      help: 'Socket.IO events on the operator namespace, by direction (in: from operators) and event name.',
      labelNames: ['direction', 'event'],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'dropops_http_requests_total',
      help: 'HTTP requests answered, by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'dropops_http_request_duration_seconds',
      help: 'Time to answer an HTTP request; an exec request lasts as long as its command.',
      labelNames: ['method', 'route', 'status'],
      // Up to five minutes: exec requests wait for the command to finish.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
  }

  /** Counts connections and events of the operator namespace; the hub's own checks have run by `connection`. */
  observeOperators(namespace: Namespace): void {
    namespace.on('connection', (socket: Socket) => {
      this.connects.inc();
      socket.on('disconnect', (reason: string) => this.disconnects.inc({ reason }));
      socket.onAny((event: string, payload: unknown) => {
        this.socketEvents.inc({ direction: 'in', event: eventLabel(event) });
        if (event !== OperatorEvents.result) return;
        const result = ExecResult.safeParse(payload);
        if (result.success)
          this.executions.inc({ mode: result.data.mode, outcome: executionOutcome(result.data) });
      });
      socket.onAnyOutgoing((event: string, payload: unknown) => {
        this.socketEvents.inc({ direction: 'out', event: eventLabel(event) });
        const body = payload as { kind?: unknown; approval?: unknown } | undefined;
        if (event === OperatorEvents.request && body?.kind === 'exec')
          this.executionsSent.inc({ mode: body.approval ? 'approved' : 'auto' });
      });
    });
  }

  approvalSigned(): void {
    this.approvals.inc();
  }

  /** Koa middleware, outermost: it sees the status the error handler chose and the route the router matched. */
  http(): Middleware {
    return async (ctx, next) => {
      const stop = this.httpDuration.startTimer();
      try {
        await next();
      } finally {
        const labels = { method: ctx.method, route: routeLabel(ctx), status: String(ctx.status) };
        stop(labels);
        this.httpRequests.inc(labels);
      }
    };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
