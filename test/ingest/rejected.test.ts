import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { listRejected, retryRejected, showRejected } from '../../src/ingest/rejected.js';
import {
  enqueueBatch,
  openSubmission,
  sealSubmission,
  waitForSubmission,
} from '../../src/ingest/submission.js';
import { createIngestQueue } from '../../src/jobs/queues.js';
import { createRedisConnection } from '../../src/jobs/redis.js';
import { createLogger } from '../../src/logger.js';
import { startWorkers, type WorkerRuntime } from '../../src/workers/runtime.js';
import { createTestDatabase, deleteQueuePrefix, type TestDatabase, testConfig } from '../support/test-env.js';

let testDb: TestDatabase;
let config: Config;
let runtime: WorkerRuntime;
let redis: Redis;
let queue: Queue;

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url, env: { INGEST_BACKOFF_MS: '50' } });
  runtime = await startWorkers({ config, db: testDb.db, logger: createLogger('silent') });
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

const event = (eventId: string, source: string, occurredOn: string) =>
  JSON.stringify({
    eventId,
    source,
    type: 'followup.contact',
    schemaVersion: 1,
    patientId: 'REJ-MRN-0001',
    occurredOn,
    payload: { vitalStatus: 'alive' },
  });

async function send(lines: string[], source: string | null) {
  const opened = await openSubmission(testDb.db, { channel: 'cli', source });
  await enqueueBatch(
    queue,
    { submissionId: opened.id, batchIndex: 0, source, items: lines.map((raw, i) => ({ line: i + 1, raw })) },
    { maxPendingBatches: 100 },
  );
  await sealSubmission(testDb.db, opened.id, { batchCount: 1, eventCount: lines.length });
  const result = await waitForSubmission(testDb.db, queue, opened.id, { timeoutMs: 20_000 });
  expect(result.outcome).toBe('complete');
  return result.account;
}

describe('survflow rejected list|show|retry', () => {
  const mismatched = event('rej-2', 'ehr', '2021-02-02'); // valid, but sent as source "clinic"
  const badDate = event('rej-3', 'clinic', '2021-02-30');
  const conflict = event('rej-1', 'clinic', '2021-05-05');

  it('lists, shows decrypted, retries and resolves only what the retry accepted', async () => {
    const account = await send(
      [event('rej-1', 'clinic', '2021-01-01'), mismatched, badDate, conflict, 'not json {'],
      'clinic',
    );
    expect(account).toMatchObject({ accepted: 1, duplicate: 0, rejected: 4 });

    const all = await listRejected(testDb.db);
    expect(all.map((r) => [r.eventId, r.kind])).toEqual([
      ['rej-2', 'invalid'],
      ['rej-3', 'invalid'],
      ['rej-1', 'conflict'],
      [null, 'invalid'],
    ]);
    expect((await listRejected(testDb.db, { kind: 'conflict' })).map((r) => r.eventId)).toEqual(['rej-1']);
    expect(await listRejected(testDb.db, { since: '2999-01-01' })).toEqual([]);

    const [r2, r3, r1] = all;
    const shown = await showRejected(testDb.db, config.rejectedBodyKey, r3!.id);
    expect(shown.raw).toBe(badDate); // byte-identical after decryption
    expect(shown.reasons).toEqual([{ path: 'occurredOn', message: 'not a calendar date' }]);

    const retry = await retryRejected(
      testDb.db,
      queue,
      {
        rejectedBodyKey: config.rejectedBodyKey,
        timeoutMs: 20_000,
        backpressure: { maxPendingBatches: 100 },
      },
      [r2!.id, r3!.id, r1!.id],
    );
    expect(retry.outcome).toBe('complete');
    expect(retry.account).toMatchObject({
      submitted: 3,
      accepted: 1,
      duplicate: 0,
      rejected: 2,
      channel: 'retry',
    });
    expect(retry.resolved).toEqual([r2!.id]);
    expect(retry.unresolved).toEqual([r3!.id, r1!.id]);

    const unresolved = await listRejected(testDb.db, { unresolved: true });
    expect(unresolved.map((r) => r.id)).not.toContain(r2!.id);
    expect(unresolved.map((r) => r.id)).toContain(r3!.id);
    const resolvedRow = await testDb.db
      .selectFrom('rejected_events')
      .select(['resolved_at', 'resolved_by'])
      .where('id', '=', r2!.id)
      .executeTakeFirstOrThrow();
    expect(resolvedRow.resolved_by).toBe(retry.submissionId);
    expect(resolvedRow.resolved_at).not.toBeNull();

    // A second retry of the resolved one is a duplicate: still resolved, by the first retry.
    const again = await retryRejected(
      testDb.db,
      queue,
      {
        rejectedBodyKey: config.rejectedBodyKey,
        timeoutMs: 20_000,
        backpressure: { maxPendingBatches: 100 },
      },
      [r2!.id],
    );
    expect(again.account).toMatchObject({ accepted: 0, duplicate: 1 });
    expect(again.resolved).toEqual([r2!.id]);
  });

  it('refuses ids that are not ids or do not exist', async () => {
    const options = {
      rejectedBodyKey: config.rejectedBodyKey,
      timeoutMs: 1_000,
      backpressure: { maxPendingBatches: 100 },
    };
    await expect(retryRejected(testDb.db, queue, options, ['1; drop table events'])).rejects.toThrow(
      /not a rejected-input id/,
    );
    await expect(retryRejected(testDb.db, queue, options, ['999999'])).rejects.toThrow(/not found: 999999/);
  });

  it('the CLI lists them (tab-separated)', async () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'rejected', 'list', '--kind', 'conflict'],
      {
        cwd: root,
        env: { ...process.env, DATABASE_URL: testDb.url, REDIS_URL: inject('redisUrl') },
        timeout: 60_000,
      },
    );
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('id\treceived\tsource\tevent id\tkind\tresolved\treasons');
    expect(lines.slice(1).map((l) => l.split('\t').slice(2, 5))).toEqual([
      ['clinic', 'rej-1', 'conflict'],
      ['clinic', 'rej-1', 'conflict'], // the retry's own rejection
    ]);
  }, 60_000);
});
