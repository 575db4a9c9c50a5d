import { Redis } from 'ioredis';

/**
 * Deletes every Redis key under a queue prefix (BullMQ keys are `<prefix>:<queue>:...`), in
 * SCAN pages so a large keyspace never blocks the server. For throwaway prefixes: tests,
 * benches, a decommissioned deployment.
 */
export async function deleteQueueKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    // The prefix is usually a hash tag ({survflow}); braces and globs are escaped for MATCH.
    const pattern = `${prefix.replace(/[{}[\]*?]/g, '\\$&')}:*`;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
