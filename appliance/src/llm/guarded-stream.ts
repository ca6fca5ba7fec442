import type { ModelError, ModelEvent } from './model.ts';

export interface StreamLimits {
  /** The stop button. */
  signal?: AbortSignal;
  /** The longest silence allowed from the model server, before the first chunk and between chunks. */
  idleTimeoutMs: number;
}

const STOPPED = Symbol('stopped');

/**
 * Runs one provider stream under the stop button and the idle timeout, and keeps the ChatModel promise:
 * it never throws and ends with exactly one `done` or `error`. `open` gets a signal that aborts the
 * provider's HTTP request (so the server sees the connection close); every wait is also raced against
 * it, so a client library that ignores the signal still cannot hold the turn open.
 */
export async function* guardedStream(
  provider: string,
  open: (signal: AbortSignal) => AsyncIterable<ModelEvent>,
  limits: StreamLimits,
  describeFailure: (error: unknown) => ModelError,
): AsyncGenerator<ModelEvent> {
  const controller = new AbortController();
  let stopReason: 'cancelled' | 'timeout' | undefined;
  let wake!: () => void;
  const stopped = new Promise<typeof STOPPED>((resolve) => (wake = () => resolve(STOPPED)));
  const stop = (why: 'cancelled' | 'timeout') => {
    stopReason ??= why;
    controller.abort();
    wake();
  };
  const onAbort = () => stop('cancelled');
  if (limits.signal?.aborted) stop('cancelled');
  limits.signal?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => stop('timeout'), limits.idleTimeoutMs);
  };

  const iterator = open(controller.signal)[Symbol.asyncIterator]();
  try {
    while (!stopReason) {
      arm();
      let step: IteratorResult<ModelEvent> | typeof STOPPED;
      try {
        step = await Promise.race([iterator.next(), stopped]);
      } catch (error) {
        if (stopReason) break; // the failure is our own abort
        yield { type: 'error', error: describeFailure(error) };
        return;
      }
      if (step === STOPPED) break;
      if (step.done) {
        yield failed(`${provider} closed the stream before the model finished its answer. Try again.`);
        return;
      }
      // The consumer's own pace is not the model's silence.
      clearTimeout(timer);
      yield step.value;
      if (step.value.type === 'done' || step.value.type === 'error') return;
    }
    yield stopReason === 'timeout'
      ? {
          type: 'error',
          error: {
            code: 'MODEL_TIMEOUT',
            message:
              `${provider} sent nothing for ${formatSeconds(limits.idleTimeoutMs)}, so the answer was stopped. ` +
              'Try again, or check that the model server is not overloaded (DROPOPS_LLM_IDLE_TIMEOUT_MS sets the limit).',
          },
        }
      : { type: 'error', error: { code: 'CANCELLED', message: 'Stopped: the model was asked to stop.' } };
  } finally {
    clearTimeout(timer);
    limits.signal?.removeEventListener('abort', onAbort);
    // Also when the consumer leaves early: the request must not outlive the turn.
    controller.abort();
    void Promise.resolve(iterator.return?.()).catch(() => {});
  }
}

function failed(message: string): ModelEvent {
  return { type: 'error', error: { code: 'MODEL_FAILED', message } };
}

function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

/** The first line of an error's message, bounded, for a sentence shown to a person. */
export function plainReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? '').slice(0, 300);
}

/** Whether a fetch failed to reach the server at all (refused, unreachable, DNS), rather than being answered. */
export function isConnectionFailure(error: unknown): boolean {
  const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined;
  const code = cause?.code ?? (error as { code?: string } | undefined)?.code;
  return (
    (error instanceof TypeError && error.message === 'fetch failed') ||
    ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(
      code ?? '',
    )
  );
}
