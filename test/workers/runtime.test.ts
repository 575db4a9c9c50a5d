import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { createQueue } from '../../src/jobs/queues.js';
import { checkEvictionPolicy, createRedisConnection } from '../../src/jobs/redis.js';
import { createLogger } from '../../src/logger.js';
import type { ProcessorDefinition } from '../../src/workers/processor.js';
import { PROCESSORS } from '../../src/workers/registry.js';
import { startWorkers } from '../../src/workers/runtime.js';
import { waitFor, waitForJobState } from '../support/runtime.js';
import { createTestDatabase, deleteQueuePrefix, type TestDatabase, testConfig } from '../support/test-env.js';

let testDb: TestDatabase;
let config: Config;

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url });
});
afterAll(async () => {
  await testDb.close();
  await deleteQueuePrefix(config.queuePrefix);
});

function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('worker runtime', () => {
  it('registers the ingest processor', () => {
    expect(PROCESSORS.map((p) => p.queue)).toContain('ingest');
  });

  it('on close, finishes the job in flight, then closes the processor, before returning', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = false;
    const order: string[] = [];
    const slow: ProcessorDefinition = {
      queue: 'recompute',
      concurrency: () => 1,
      create: () =>
        Object.assign(
          async (_job: Job) => {
            started = true;
            await gate;
            order.push('job finished');
            return { finished: true };
          },
          {
            close: async () => {
              order.push('processor closed');
            },
          },
        ),
    };
    const { logger } = memoryLogger();
    const runtime = await startWorkers({ config, db: testDb.db, logger, processors: [slow] });
    const redis = createRedisConnection(config.redisUrl, 'producer');
    const queue = createQueue(config, 'recompute', redis);
    try {
      const job = await queue.add('slow', {}, { jobId: 'slow-1' });
      await waitForJobState(queue, job.id!, ['active']);
      await waitFor(async () => started, 'the processor to start'); // 'active' comes first in Redis
      const closing = runtime.close();
      let closed = false;
      void closing.then(() => {
        closed = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(closed).toBe(false); // still draining the job in flight
      release();
      await closing;
      expect(order).toEqual(['job finished', 'processor closed']);
      const done = await queue.getJob('slow-1');
      expect(await done?.getState()).toBe('completed');
      expect(done?.returnvalue).toEqual({ finished: true });
    } finally {
      release();
      await runtime.close();
      await queue.close();
      await redis.quit();
    }
  });

  it('warns when Redis may evict queue keys, and not when it is noeviction', async () => {
    const redis = new Redis(config.redisUrl);
    try {
      const { logger, lines } = memoryLogger();
      expect(await checkEvictionPolicy(redis, logger)).toBe('noeviction');
      expect(lines.filter((l) => l.level === 40)).toHaveLength(0);

      const fake = { call: async () => ['maxmemory-policy', 'allkeys-lru'] } as unknown as Redis;
      expect(await checkEvictionPolicy(fake, logger)).toBe('allkeys-lru');
      expect(String(lines.at(-1)?.msg)).toMatch(/not noeviction/);

      const refusing = {
        call: async () => {
          throw new Error('ERR unknown command CONFIG');
        },
      } as unknown as Redis;
      expect(await checkEvictionPolicy(refusing, logger)).toBeNull();
      expect(String(lines.at(-1)?.msg)).toMatch(/could not read/);
    } finally {
      await redis.quit();
    }
  });

  it('redacts patient identifiers and raw items from logs', () => {
    const { logger, lines } = memoryLogger();
    logger.info(
      { event: { patientId: 'MRN-LEAK-1' }, items: [{ raw: 'MRN-LEAK-2' }], patientId: 'MRN-LEAK-3' },
      'x',
    );
    expect(JSON.stringify(lines)).not.toMatch(/MRN-LEAK/);
  });
});
