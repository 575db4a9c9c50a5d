import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { createDatabase, siblingDatabaseUrl } from '../../src/db/connection.js';
import {
  enqueueBatch,
  getSubmissionAccount,
  openSubmission,
  sealSubmission,
  waitForSubmission,
} from '../../src/ingest/submission.js';
import { ingestJobId } from '../../src/jobs/contracts.js';
import { createIngestQueue, INGEST_JOB_NAME } from '../../src/jobs/queues.js';
import { createRedisConnection } from '../../src/jobs/redis.js';
import { createLogger } from '../../src/logger.js';
import { startWorkers, type WorkerRuntime } from '../../src/workers/runtime.js';
import { makeCohort, toLines } from '../support/events.js';
import { jobOf, ledgerSnapshot } from '../support/ingest.js';
import { waitFor, waitForJobState } from '../support/runtime.js';
import { dropDatabase, recreateDatabase } from '../support/servers.js';
import { createTestDatabase, deleteQueuePrefix, type TestDatabase, testConfig } from '../support/test-env.js';

const logger = createLogger('silent');
let testDb: TestDatabase;
let config: Config;
let runtime: WorkerRuntime;
let redis: Redis;
let queue: Queue;

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url, env: { INGEST_BACKOFF_MS: '50' } });
  runtime = await startWorkers({ config, db: testDb.db, logger });
  redis = createRedisConnection(config.redisUrl, 'producer');
  queue = createIngestQueue(config, redis);
});
afterAll(async () => {
  await runtime?.close();
  await queue?.close();
  await redis?.quit();
  await testDb?.close();
  if (config) await deleteQueuePrefix(config.queuePrefix);
});

async function send(lines: string[], batchSize: number, id?: string) {
  const opened = await openSubmission(testDb.db, { id, channel: 'cli', source: null });
  let batchIndex = 0;
  for (let i = 0; i < lines.length; i += batchSize) {
    await enqueueBatch(
      queue,
      {
        submissionId: opened.id,
        batchIndex: batchIndex++,
        source: null,
        items: lines.slice(i, i + batchSize).map((raw, k) => ({ line: i + k + 1, raw })),
      },
      { maxPendingBatches: 1000 },
    );
  }
  await sealSubmission(testDb.db, opened.id, { batchCount: batchIndex, eventCount: lines.length });
  return opened.id;
}

describe('ingest through BullMQ', () => {
  const lines = toLines(makeCohort(12, 4, 'queue-src'));

  it('ingests a file end to end and re-ingests it as duplicates', async () => {
    const first = await waitForSubmission(testDb.db, queue, await send(lines, 7), { timeoutMs: 20_000 });
    expect(first.outcome).toBe('complete');
    expect(first.account).toMatchObject({
      submitted: 60,
      batchCount: 9,
      accepted: 60,
      duplicate: 0,
      rejected: 0,
    });
    const ledger = await ledgerSnapshot(testDb.db);

    const second = await waitForSubmission(testDb.db, queue, await send(lines, 25), { timeoutMs: 20_000 });
    expect(second.account).toMatchObject({ submitted: 60, accepted: 0, duplicate: 60, rejected: 0 });
    expect(await ledgerSnapshot(testDb.db)).toEqual(ledger);
  });

  it('re-sending a submission under its id enqueues nothing twice and changes no account', async () => {
    const id = await send(lines.slice(0, 10), 5, 'resend-me');
    const done = await waitForSubmission(testDb.db, queue, id, { timeoutMs: 20_000 });
    expect(done.account).toMatchObject({ accepted: 0, duplicate: 10 });
    await send(lines.slice(0, 10), 5, 'resend-me');
    const again = await waitForSubmission(testDb.db, queue, id, { timeoutMs: 20_000 });
    expect(again.account).toMatchObject({ submitted: 10, processed: 10, accepted: 0, duplicate: 10 });
  });

  it('reports a batch that Redis lost as missing instead of waiting forever', async () => {
    const id = await send(lines.slice(0, 4), 4);
    // Claim two batches but only one was ever enqueued (as if Redis lost the second).
    await testDb.db.updateTable('ingest_submissions').set({ batch_count: 2 }).where('id', '=', id).execute();
    const result = await waitForSubmission(testDb.db, queue, id, { timeoutMs: 20_000, pollMs: 20 });
    expect(result.outcome).toBe('stuck');
    if (result.outcome === 'complete') throw new Error('unreachable');
    expect(result.pending.missing).toEqual([1]);
    expect(result.account.pendingBatches).toEqual([1]);
  });

  it('fails a poison payload at once, without retries', async () => {
    const job = await queue.add(
      INGEST_JOB_NAME,
      { submissionId: 'x', items: 'not a list' },
      { jobId: 'poison-1' },
    );
    const failed = await waitForJobState(queue, job.id!, ['failed']);
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/invalid ingest job payload/);
    expect(config.ingest.attempts).toBeGreaterThan(1);
  });

  it('fails a batch of an unknown submission at once (unrecoverable)', async () => {
    const job = await queue.add(INGEST_JOB_NAME, jobOf('never-opened', 0, ['{}']), { jobId: 'orphan-1' });
    const failed = await waitForJobState(queue, job.id!, ['failed']);
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/does not exist/);
  });

  it('leaves no raw line in a completed job: its payload is reduced to the batch, its counts are the return value', async () => {
    const sent = lines.slice(0, 6);
    const id = await send(sent, 3, 'reduced-after-write');
    const done = await waitForSubmission(testDb.db, queue, id, { timeoutMs: 20_000 });
    expect(done.outcome).toBe('complete');
    for (const batchIndex of [0, 1]) {
      const job = await waitForJobState(queue, ingestJobId(id, batchIndex), ['completed']);
      expect(job.data).toEqual({ submissionId: id, batchIndex, written: true });
      expect(job.returnvalue).toMatchObject({ submissionId: id, batchIndex, eventCount: 3 });
    }
    // Nothing of the lines (patient identifiers included) is left under the job keys.
    const patientIds = sent.map((line) => (JSON.parse(line) as { patientId: string }).patientId);
    for (const batchIndex of [0, 1]) {
      const stored = JSON.stringify(
        await redis.hgetall(`${config.queuePrefix}:ingest:${ingestJobId(id, batchIndex)}`),
      );
      for (const patientId of patientIds) expect(stored).not.toContain(patientId);
    }
  });

  it('completes a reduced job delivered again from the recorded batch, and fails one whose batch is not recorded', async () => {
    const id = await send(lines.slice(0, 2), 2, 'reduced-again');
    await waitForSubmission(testDb.db, queue, id, { timeoutMs: 20_000 });
    const again = await queue.add(
      INGEST_JOB_NAME,
      { submissionId: id, batchIndex: 0, written: true },
      { jobId: 'reduced-again-redelivered' },
    );
    const completed = await waitForJobState(queue, again.id!, ['completed']);
    expect(completed.returnvalue).toMatchObject({ submissionId: id, batchIndex: 0, alreadyRecorded: true });

    const orphan = await queue.add(
      INGEST_JOB_NAME,
      { submissionId: id, batchIndex: 7, written: true },
      { jobId: 'reduced-never-written' },
    );
    const failed = await waitForJobState(queue, orphan.id!, ['failed']);
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/no such batch is recorded/);
  });

  it('bounds what finished jobs leave in Redis', async () => {
    const job = await queue.getJob(ingestJobId('resend-me', 0));
    expect(job?.opts.removeOnComplete).toEqual({ count: config.jobs.keepCompleted });
    expect(job?.opts.removeOnFail).toEqual({ count: config.jobs.keepFailed });
    expect(job?.opts.backoff).toEqual({ type: 'exponential', delay: 50 });
  });
});

describe('transient database failure', () => {
  it('retries with backoff until the database is back, then writes the batch once', async () => {
    const name = `survflow_test_late_${process.pid}`;
    const staging = `${name}_staging`;
    const server = inject('databaseUrl');
    await dropDatabase(server, name);
    const lateConfig = testConfig({
      databaseUrl: siblingDatabaseUrl(testDb.url, name),
      // Short first delay: the backoff doubles per attempt and this test has a time limit.
      env: { INGEST_BACKOFF_MS: '10', INGEST_ATTEMPTS: '30' },
    });
    const lateDb = createDatabase({ url: lateConfig.databaseUrl, poolMax: 2 });
    const lateRuntime = await startWorkers({ config: lateConfig, db: lateDb, logger });
    const lateRedis = createRedisConnection(lateConfig.redisUrl, 'producer');
    const lateQueue = createIngestQueue(lateConfig, lateRedis);
    try {
      await lateQueue.add(INGEST_JOB_NAME, jobOf('late', 0, lines()), { jobId: ingestJobId('late', 0) });
      // The database does not exist yet: the job fails and is retried (delayed), not dropped.
      await waitFor(
        async () => ((await lateQueue.getJob(ingestJobId('late', 0)))?.attemptsMade ?? 0) >= 2,
        'two failed attempts',
        30_000,
      );
      // The database comes back whole (schema and the submission at once), as after an outage.
      const stagingDb = createDatabase({
        url: await recreateDatabase(server, staging, inject('templateDatabase')),
      });
      await openSubmission(stagingDb, { id: 'late', channel: 'cli', source: null });
      await stagingDb.destroy();
      const admin = createDatabase({ url: siblingDatabaseUrl(server, 'postgres'), poolMax: 1 });
      await sql`alter database ${sql.id(staging)} rename to ${sql.id(name)}`.execute(admin);
      await admin.destroy();

      const job = await waitForJobState(lateQueue, ingestJobId('late', 0), ['completed'], 40_000);
      expect(job.attemptsMade).toBeGreaterThanOrEqual(3);
      expect(job.returnvalue).toMatchObject({ accepted: 3, alreadyRecorded: false });
      expect((await getSubmissionAccount(lateDb, 'late')).accepted).toBe(3);
    } finally {
      await lateRuntime.close();
      await lateQueue.close();
      await lateRedis.quit();
      await lateDb.destroy();
      await dropDatabase(server, name);
      await dropDatabase(server, staging);
      await deleteQueuePrefix(lateConfig.queuePrefix);
    }
  }, 90_000);

  function lines(): string[] {
    return toLines(makeCohort(1, 2, 'late-src'));
  }
});
