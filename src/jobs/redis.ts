import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/**
 * Redis connections for BullMQ. Workers block on Redis and must never give up on a command
 * (BullMQ requires `maxRetriesPerRequest: null` for them); producers (CLI, HTTP intake) would
 * rather fail a request after a few retries than hang, so they keep a bounded retry count.
 * The URL may name a database number (`redis://host:6379/2`).
 */
export type RedisRole = 'worker' | 'producer';

export function createRedisConnection(url: string, role: RedisRole, connectionName = 'survflow'): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 3,
    enableReadyCheck: true,
    connectionName: `${connectionName}-${role}`,
  });
  // Without a listener, a connection error is an unhandled 'error' event that kills the
  // process; ioredis reconnects by itself and the commands in flight report the failure.
  redis.on('error', () => {});
  return redis;
}

/**
 * BullMQ loses jobs silently if Redis evicts its keys under memory pressure. Warn at start
 * unless the policy is `noeviction`. Managed Redis often forbids CONFIG; say so instead.
 */
export async function checkEvictionPolicy(redis: Redis, logger: Logger): Promise<string | null> {
  try {
    const reply = (await redis.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
    const policy = reply[1] ?? null;
    if (policy !== 'noeviction') {
      logger.warn(
        { maxmemoryPolicy: policy },
        'Redis maxmemory-policy is not noeviction: queued jobs can be evicted and lost; set maxmemory-policy noeviction',
      );
    }
    return policy;
  } catch (error) {
    logger.warn(
      { err: error },
      'could not read Redis maxmemory-policy (CONFIG GET refused?); make sure it is noeviction',
    );
    return null;
  }
}
