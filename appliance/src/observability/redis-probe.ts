import { Redis } from 'ioredis';

export interface RedisProbe {
  ping(): Promise<unknown>;
  close(): void;
}

/**
 * A connection of its own for readiness, so the probe asks Redis itself rather than trusting another
 * client's view. It reconnects on its own; while it is down a ping fails at once instead of queueing.
 */
export function redisProbe(url: string): RedisProbe {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  // Failures surface through readiness (logged once per change), not as an error event per retry.
  redis.on('error', () => {});
  redis.connect().catch(() => {});
  return {
    ping: () => redis.ping(),
    close: () => redis.disconnect(),
  };
}
