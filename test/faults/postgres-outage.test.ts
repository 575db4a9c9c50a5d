import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { databaseName } from '../../src/db/connection.js';
import { createIngestQueue } from '../../src/jobs/queues.js';
import { createRedisConnection } from '../../src/jobs/redis.js';
import { waitFor } from '../support/runtime.js';
import {
  createTestDatabase,
  deleteQueuePrefix,
  type TestDatabase,
  testConfig,
  uniqueQueuePrefix,
} from '../support/test-env.js';
import {
  accountedBatches,
  blockDatabase,
  exactlyOnce,
  FAST_RECOVERY_ENV,
  ledgerCheck,
  producerSet,
  sleep,
  startWorker,
  submissionIdOf,
  survflow,
  type WorkerProcess,
  waitForComplete,
  writeLines,
} from './harness.js';

const ATTEMPTS = 12;
let testDb: TestDatabase;
let env: NodeJS.ProcessEnv;
let tmp: string;
let redis: Redis;
let queue: Queue;
let worker: WorkerProcess | undefined;
let unblock: (() => Promise<void>) | undefined;

beforeAll(async () => {
  testDb = await createTestDatabase();
  tmp = await mkdtemp(path.join(tmpdir(), 'survflow-faults-pg-'));
  const prefix = uniqueQueuePrefix('faults-pg');
  env = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: testDb.url,
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: prefix,
    INGEST_ATTEMPTS: String(ATTEMPTS),
    // 0.3, 0.6, 1.2, ... 19.2 s: seven failed attempts span a 38 s outage.
    INGEST_BACKOFF_MS: '300',
    ...FAST_RECOVERY_ENV,
  };
  const config = testConfig({ databaseUrl: testDb.url, queuePrefix: prefix });
  redis = createRedisConnection(config.redisUrl, 'producer');
  queue = createIngestQueue(config, redis);
});

afterAll(async () => {
  await unblock?.().catch(() => {});
  worker?.kill();
  await queue?.close();
  await redis?.quit();
  await testDb?.close();
  if (env?.QUEUE_PREFIX) await deleteQueuePrefix(env.QUEUE_PREFIX);
  await rm(tmp, { recursive: true, force: true });
});

describe('PostgreSQL unavailable for 30 s during ingest', () => {
  it('the worker backs off and stays up, then completes the set exactly once', async () => {
    const set = producerSet(3000, 'pg-src', 'pg');
    const file = path.join(tmp, 'pg.ndjson');
    await writeLines(file, set.lines);
    const sent = await survflow(['ingest', file, '--batch-size', '30'], env); // 100 batches
    expect(sent.code, sent.stderr).toBe(0);
    const submissionId = submissionIdOf(sent.stdout);

    worker = await startWorker(env, 'worker');
    await waitFor(
      async () => (await accountedBatches(testDb.db, submissionId)) >= 5,
      'first batches',
      60_000,
    );

    // Only this test's database goes away; the shared server keeps serving everyone else.
    unblock = await blockDatabase(inject('databaseUrl'), databaseName(testDb.url));
    const blockedAt = Date.now();
    await sleep(30_000);
    // The same process is still up: no crash, no restart loop; it was failing and retrying.
    expect(worker.proc.exitCode, worker.log().slice(-3000)).toBeNull();
    expect(worker.proc.signalCode).toBeNull();
    expect(worker.log()).toContain('ingest batch failed; BullMQ retries it');
    expect(worker.log()).toMatch(/not currently accepting connections|terminating connection/);
    await unblock();
    unblock = undefined;
    expect(Date.now() - blockedAt).toBeGreaterThanOrEqual(30_000);

    const account = await waitForComplete(testDb.db, submissionId, 90_000);
    expect(await ledgerCheck(testDb.db, 'pg-src', set, account)).toEqual(exactlyOnce(set));
    expect(worker.proc.exitCode).toBeNull();

    // Backed off rather than hammering: no job used up its attempts, none failed for good.
    const jobs = await queue.getJobs(['completed'], 0, -1);
    expect(jobs.length).toBe(100);
    const maxAttempts = Math.max(...jobs.map((j) => j.attemptsMade));
    expect(maxAttempts).toBeGreaterThan(1); // the outage really hit jobs
    expect(maxAttempts).toBeLessThan(ATTEMPTS);
    expect((await queue.getJobCounts('failed')).failed).toBe(0);
  }, 150_000);
});
