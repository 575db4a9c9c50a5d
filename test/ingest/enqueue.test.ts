import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { enqueueBatch, openSubmission, sealSubmission } from '../../src/ingest/submission.js';
import { createIngestQueue } from '../../src/jobs/queues.js';
import { createRedisConnection } from '../../src/jobs/redis.js';
import { createLogger } from '../../src/logger.js';
import { startWorkers } from '../../src/workers/runtime.js';
import { createTestDatabase, deleteQueuePrefix, type TestDatabase, testConfig } from '../support/test-env.js';

let testDb: TestDatabase;
let config: Config;
let redis: Redis;
let queue: Queue;

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url });
  redis = createRedisConnection(config.redisUrl, 'producer');
  queue = createIngestQueue(config, redis);
});
afterAll(async () => {
  await queue.close();
  await redis.quit();
  await testDb.close();
  await deleteQueuePrefix(config.queuePrefix);
});

const batch = (submissionId: string, batchIndex: number) => ({
  submissionId,
  batchIndex,
  source: null,
  items: [{ line: batchIndex + 1, raw: '{}' }],
});

describe('enqueueing batches (no worker running)', () => {
  it('enqueues a batch once however often it is sent (deterministic job id)', async () => {
    const { id } = await openSubmission(testDb.db, { id: 'twice', channel: 'cli', source: null });
    await enqueueBatch(queue, batch(id, 0), { maxPendingBatches: 100 });
    await enqueueBatch(queue, batch(id, 0), { maxPendingBatches: 100 });
    expect(await queue.getWaitingCount()).toBe(1);
  });

  it('waits while the queue holds maxPendingBatches, and goes on once a worker drains it', async () => {
    const { id } = await openSubmission(testDb.db, { id: 'pressure', channel: 'cli', source: null });
    await enqueueBatch(queue, batch(id, 0), { maxPendingBatches: 3 });
    await enqueueBatch(queue, batch(id, 1), { maxPendingBatches: 3 });
    // Three waiting now (one from the test above): the next batch must wait.
    let waits = 0;
    let done = false;
    const third = enqueueBatch(queue, batch(id, 2), {
      maxPendingBatches: 3,
      pollMs: 20,
      onWait: () => {
        waits++;
      },
    }).then(() => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(done).toBe(false);
    expect(waits).toBeGreaterThan(2);
    expect(await queue.getWaitingCount()).toBe(3);

    const runtime = await startWorkers({ config, db: testDb.db, logger: createLogger('silent') });
    try {
      await third;
      expect(done).toBe(true);
      await sealSubmission(testDb.db, id, { batchCount: 3, eventCount: 3 });
    } finally {
      await runtime.close();
    }
  });

  it('refuses to resume a sealed submission with different totals', async () => {
    await expect(sealSubmission(testDb.db, 'pressure', { batchCount: 4, eventCount: 4 })).rejects.toThrow(
      /resume with the same input and batch size/,
    );
    await expect(
      openSubmission(testDb.db, { id: 'pressure', channel: 'cli', source: 'ehr' }),
    ).rejects.toThrow(/was opened with source/);
    await expect(openSubmission(testDb.db, { id: 'bad id!', channel: 'cli', source: null })).rejects.toThrow(
      /submission id must match/,
    );
  });
});
