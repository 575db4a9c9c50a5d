import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Config } from '../../src/config.js';
import {
  enqueueBatch,
  openSubmission,
  sealSubmission,
  waitForSubmission,
} from '../../src/ingest/submission.js';
import { createIngestQueue } from '../../src/jobs/queues.js';
import { createRedisConnection } from '../../src/jobs/redis.js';
import { createLogger } from '../../src/logger.js';
import { startWorkers } from '../../src/workers/runtime.js';
import { startWorker, survflow, type WorkerProcess, writeLines } from '../faults/harness.js';
import {
  createTestDatabase,
  deleteQueuePrefix,
  type TestDatabase,
  testConfig,
  uniqueQueuePrefix,
} from '../support/test-env.js';

/**
 * Captures ALL log output of a full ingest (the worker process's stdout and stderr, the CLI's
 * stderr, and in-process pino at trace level) and searches it for every raw patient id and for
 * both secrets. The input goes through every path that could carry an id: accepted events,
 * duplicates, conflicts, contract failures (an id in a wrong-type field, an over-long id, an id
 * next to an unknown field), malformed JSON containing an id, and a poison job.
 */

const PSEUDONYM_KEY = 'pk-SECRET-7f3a9c1e-never-in-logs';
const REJECTED_BODY_KEY = 'c0ffee'.repeat(11).slice(0, 64);

const ids = Array.from({ length: 30 }, (_, i) => `LOGMRN${String(i).padStart(4, '0')}X`);
const event = (eventId: string, patientId: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    eventId,
    source: 'logs',
    type: 'followup.contact',
    schemaVersion: 1,
    patientId,
    occurredOn: '2022-02-02',
    payload: { vitalStatus: 'alive' },
    ...extra,
  });

function lines(prefix: string): string[] {
  const out = ids.map((id, i) => event(`${prefix}-${i}`, id));
  out.push(event(`${prefix}-0`, ids[0])); // duplicate
  out.push(event(`${prefix}-1`, ids[2])); // conflict: another patient under the same event id
  out.push(event(`${prefix}-x1`, { mrn: ids[3] })); // wrong type
  out.push(event(`${prefix}-x2`, `${ids[4]}${'9'.repeat(120)}`)); // too long
  out.push(event(`${prefix}-x3`, ids[5], { occurredOn: '2022-02-30' })); // bad date
  out.push(event(`${prefix}-x4`, ids[6], { mrn: ids[6] })); // unknown field carrying the id
  out.push(`{"eventId":"${prefix}-x5","patientId":"${ids[7]}", broken`); // not JSON
  out.push(event(`${prefix}-x6`, `${ids[8]}\u0000`)); // NUL
  return out;
}

function findLeaks(text: string): string[] {
  const secrets = [
    PSEUDONYM_KEY,
    REJECTED_BODY_KEY,
    Buffer.from(REJECTED_BODY_KEY, 'hex').toString('base64'),
  ];
  return [...ids, ...secrets].filter((needle) => text.includes(needle));
}

let testDb: TestDatabase;
let tmp: string;
let env: NodeJS.ProcessEnv;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  testDb = await createTestDatabase();
  tmp = await mkdtemp(path.join(tmpdir(), 'survflow-logs-'));
  env = {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'trace',
    DATABASE_URL: testDb.url,
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: uniqueQueuePrefix('logs'),
    PSEUDONYM_KEY,
    REJECTED_BODY_KEY,
  };
});
afterAll(async () => {
  worker?.kill();
  await testDb?.close();
  await deleteQueuePrefix(env.QUEUE_PREFIX as string);
  await rm(tmp, { recursive: true, force: true });
});

describe('no patient id and no secret in any log output', () => {
  it('worker process + CLI (trace level): full ingest of a file', async () => {
    worker = await startWorker(env, 'worker');
    const file = path.join(tmp, 'ids.ndjson');
    await writeLines(file, lines('proc'));
    const result = await survflow(
      ['ingest', file, '--wait', '--batch-size', '10', '--timeout', '60'],
      env,
      90_000,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/accepted +30/);
    expect(result.stdout, result.stdout).toMatch(/rejected +7/);
    worker.proc.kill('SIGTERM');
    await worker.exited;
    const logs = `${worker.log()}\n${result.stderr}`;
    expect(logs).toContain('ingest batch written'); // the capture really holds the logs
    expect(findLeaks(logs)).toEqual([]);
    // The account printed for the operator quotes reasons, never the ids either.
    expect(findLeaks(result.stdout)).toEqual([]);
  }, 120_000);

  it('in-process pino at trace level, including a poison job and a failing batch', async () => {
    let captured = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        captured += chunk;
        done();
      },
    });
    const config: Config = testConfig({
      databaseUrl: testDb.url,
      env: { PSEUDONYM_KEY, REJECTED_BODY_KEY, INGEST_ATTEMPTS: '1' },
    });
    const logger = createLogger('trace', sink);
    const runtime = await startWorkers({ config, db: testDb.db, logger });
    const redis: Redis = createRedisConnection(config.redisUrl, 'producer');
    const queue: Queue = createIngestQueue(config, redis);
    try {
      const opened = await openSubmission(testDb.db, { channel: 'cli', source: null });
      const items = lines('inproc').map((raw, i) => ({ line: i + 1, raw }));
      await enqueueBatch(
        queue,
        { submissionId: opened.id, batchIndex: 0, source: null, items },
        { maxPendingBatches: 100 },
      );
      await sealSubmission(testDb.db, opened.id, { batchCount: 1, eventCount: items.length });
      expect((await waitForSubmission(testDb.db, queue, opened.id, { timeoutMs: 20_000 })).outcome).toBe(
        'complete',
      );
      // A poison payload carrying ids, and a batch of an unknown submission: both logged as failures.
      await queue.add(
        'ingest-batch',
        { patientId: ids[9], items: [{ raw: ids[10] }] },
        { jobId: 'poison-1' },
      );
      await queue.add(
        'ingest-batch',
        {
          submissionId: 'nope',
          batchIndex: 0,
          source: null,
          items: [{ line: 1, raw: event('n-1', ids[11]) }],
        },
        { jobId: 'unknown-1' },
      );
      const deadline = Date.now() + 15_000;
      while (!(captured.includes('poison ingest payload') && captured.includes('does not exist'))) {
        if (Date.now() > deadline) throw new Error(`failures not logged:\n${captured.slice(-2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await runtime.close();
      await queue.close();
      await redis.quit();
    }
    logger.flush();
    expect(captured).toContain('ingest batch written');
    expect(findLeaks(captured)).toEqual([]);
  }, 60_000);
});
