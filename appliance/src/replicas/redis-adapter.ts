import { createHash } from 'node:crypto';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Server } from 'socket.io';
import { urlWithoutPassword } from '../security/secrets.ts';

/** The relay could not reach the Redis it was told to share operators through. */
export class RedisUnreachableError extends Error {
  readonly code = 'REDIS_UNREACHABLE';
  override name = 'RedisUnreachableError';
}

export interface ReplicaLink {
  close(): Promise<void>;
}

/**
 * Joins the relay's Socket.IO server to the other replicas through Redis pub/sub, so a request made on one
 * replica reaches an operator connected to another. Must run before any namespace is created. The channel
 * prefix comes from the appliance's root CA: replicas of one appliance meet, other appliances (and test
 * relays) sharing the same Redis never see each other's operators.
 */
export async function joinReplicas(
  io: Server,
  redisUrl: string,
  rootCertPem: string,
  log: Logger,
): Promise<ReplicaLink> {
  const pub = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 10_000 });
  const sub = pub.duplicate();
  let lastError: Error | undefined;
  const onError = (err: Error) => {
    lastError = err;
    log.warn({ code: 'REDIS_UNREACHABLE', reason: err.message }, 'Redis connection trouble; retrying');
  };
  pub.on('error', onError);
  sub.on('error', onError);
  try {
    await Promise.all([pub.connect(), sub.connect()]);
  } catch (err) {
    pub.disconnect();
    sub.disconnect();
    throw new RedisUnreachableError(
      `cannot reach Redis at ${urlWithoutPassword(redisUrl)} (${(lastError ?? (err as Error)).message}); check REDIS_URL and that Redis runs, or unset it for a single replica.`,
    );
  }
  const appliance = createHash('sha256').update(rootCertPem).digest('hex').slice(0, 16);
  io.adapter(
    createAdapter(pub, sub, {
      key: `dropops:${appliance}`,
      // Answers go only to the replica that asked, not to every replica.
      publishOnSpecificResponseChannel: true,
    }),
  );
  log.info(
    { redis: urlWithoutPassword(redisUrl) },
    'sharing operators with the other replicas through Redis',
  );
  return {
    async close() {
      await Promise.allSettled([pub.quit(), sub.quit()]);
    },
  };
}
