import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
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
  exactlyOnce,
  FAST_RECOVERY_ENV,
  ledgerCheck,
  producerSet,
  startWorker,
  submissionIdOf,
  survflow,
  type WorkerProcess,
  waitForComplete,
  writeLines,
} from './harness.js';

let testDb: TestDatabase;
let env: NodeJS.ProcessEnv;
let tmp: string;
let redis: Redis;
let queue: Queue;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase();
  tmp = await mkdtemp(path.join(tmpdir(), 'survflow-faults-'));
  const prefix = uniqueQueuePrefix('faults-crash');
  env = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: testDb.url,
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: prefix,
    INGEST_CONCURRENCY: '2',
    INGEST_BACKOFF_MS: '200',
    ...FAST_RECOVERY_ENV,
  };
  const config = testConfig({ databaseUrl: testDb.url, queuePrefix: prefix });
  redis = createRedisConnection(config.redisUrl, 'producer');
  queue = createIngestQueue(config, redis);
});

afterEach(() => {
  for (const w of workers.splice(0)) w.kill();
});

afterAll(async () => {
  for (const w of workers) w.kill();
  await queue?.close();
  await redis?.quit();
  await testDb?.close();
  if (env?.QUEUE_PREFIX) await deleteQueuePrefix(env.QUEUE_PREFIX);
  await rm(tmp, { recursive: true, force: true });
});

/** Enqueues a file with the CLI (no worker running yet), returns its submission id. */
async function enqueue(name: string, lines: string[], batchSize: number): Promise<string> {
  const file = path.join(tmp, name);
  await writeLines(file, lines);
  const result = await survflow(['ingest', file, '--batch-size', String(batchSize)], env);
  expect(result.code, result.stderr).toBe(0);
  return submissionIdOf(result.stdout);
}

async function activeJobs(): Promise<number> {
  return (await queue.getJobCounts('active')).active ?? 0;
}

describe('a worker process killed with SIGKILL in the middle of batches', () => {
  it('kill -9 twice mid-run, restart: every event in the ledger exactly once, accounts add up', async () => {
    const set = producerSet(2000, 'crash-src', 'crash');
    const submissionId = await enqueue('crash.ndjson', set.lines, 25); // 80 batches
    const batchCount = Math.ceil(set.lines.length / 25);

    for (const threshold of [10, 40]) {
      const worker = await startWorker(env, 'worker to be killed');
      workers.push(worker);
      // Kill only while batches are being written and some are still to come.
      await waitFor(
        async () =>
          (await accountedBatches(testDb.db, submissionId)) >= threshold && (await activeJobs()) > 0,
        `${threshold} batches accounted with jobs in flight`,
        60_000,
      );
      worker.proc.kill('SIGKILL');
      const exit = await worker.exited;
      expect(exit.signal).toBe('SIGKILL');
      const done = await accountedBatches(testDb.db, submissionId);
      expect(done).toBeLessThan(batchCount); // it really died mid-run
    }

    const survivor = await startWorker(env, 'restarted worker');
    workers.push(survivor);
    const account = await waitForComplete(testDb.db, submissionId, 90_000);
    expect(await ledgerCheck(testDb.db, 'crash-src', set, account)).toEqual(exactlyOnce(set));
    expect(survivor.proc.exitCode).toBeNull();
    // Nothing left behind in Redis: no job active, waiting or failed. A job whose batch was
    // committed just before a kill stays `active` (the account is complete without it) until its
    // lock expires (3 s here) and the survivor's stalled check hands it back; its re-delivery
    // then completes from the recorded account. So: wait for that, not only for the account.
    const counts = await waitFor(
      async () => {
        const now = await queue.getJobCounts('active', 'waiting', 'delayed', 'failed');
        return now.active === 0 && now.waiting === 0 && now.delayed === 0 ? now : undefined;
      },
      "the killed workers' jobs to be recovered and completed",
      30_000,
    );
    expect(counts).toMatchObject({ active: 0, waiting: 0, delayed: 0, failed: 0 });
  }, 150_000);
});

describe('SIGTERM during work', () => {
  it('finishes in-flight jobs, exits 0, leaves the rest queued; a new worker completes the set exactly once', async () => {
    const set = producerSet(1500, 'term-src', 'term');
    const submissionId = await enqueue('term.ndjson', set.lines, 25); // 60 batches
    const batchCount = Math.ceil(set.lines.length / 25);

    const worker = await startWorker(env, 'worker to be stopped');
    workers.push(worker);
    await waitFor(
      async () => (await accountedBatches(testDb.db, submissionId)) >= 10 && (await activeJobs()) > 0,
      'jobs in flight',
      60_000,
    );
    worker.proc.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(worker.log()).toContain('shutting down: finishing in-flight jobs');
    // Graceful: nothing is left active (finished, or back in the queue), and the set is not done.
    expect(await activeJobs()).toBe(0);
    const done = await accountedBatches(testDb.db, submissionId);
    expect(done).toBeLessThan(batchCount);
    const counts = await queue.getJobCounts('waiting', 'completed');
    expect((counts.waiting ?? 0) + done).toBe(batchCount);

    const next = await startWorker(env, 'next worker');
    workers.push(next);
    const account = await waitForComplete(testDb.db, submissionId, 90_000);
    expect(await ledgerCheck(testDb.db, 'term-src', set, account)).toEqual(exactlyOnce(set));
  }, 150_000);
});
