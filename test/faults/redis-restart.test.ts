import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getSubmissionAccount } from '../../src/ingest/submission.js';
import { waitFor } from '../support/runtime.js';
import { createTestDatabase, type TestDatabase, uniqueQueuePrefix } from '../support/test-env.js';
import {
  exactlyOnce,
  FAST_RECOVERY_ENV,
  freePort,
  ledgerCheck,
  producerSet,
  startWorker,
  survflow,
  type WorkerProcess,
  waitForComplete,
  writeLines,
} from './harness.js';

/**
 * A private redis-server per test (the shared one is never restarted), killed with SIGKILL
 * and started again on the same port: without persistence it comes back empty; with AOF
 * (appendfsync always) it comes back with every acknowledged job.
 */
type PrivateRedis = { url: string; stop: () => Promise<void>; restart: () => Promise<void> };

async function startPrivateRedis(dir: string, persistence: 'none' | 'aof'): Promise<PrivateRedis> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push(
    ...(persistence === 'aof' ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
  );
  let proc: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const launch = async () => {
    proc = spawn('redis-server', args, { stdio: 'ignore' });
    await waitFor(
      async () => {
        const probe = new Redis(url, {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        probe.on('error', () => {});
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG';
        } catch {
          return false;
        } finally {
          probe.disconnect();
        }
      },
      'private redis-server to answer',
      15_000,
    );
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await gone;
  };
  await launch();
  return {
    url,
    stop: kill,
    restart: async () => {
      await kill();
      await launch();
    },
  };
}

let testDb: TestDatabase;
let tmp: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase();
  tmp = await mkdtemp(path.join(tmpdir(), 'survflow-faults-redis-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await testDb?.close();
  await rm(tmp, { recursive: true, force: true });
});

function envFor(redisUrl: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: testDb.url,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: uniqueQueuePrefix('faults-redis'),
    INGEST_BACKOFF_MS: '200',
    ...FAST_RECOVERY_ENV,
  };
}

async function sealed(submissionId: string): Promise<boolean> {
  const account = await getSubmissionAccount(testDb.db, submissionId).catch(() => undefined);
  return account?.sealed ?? false;
}

describe('Redis restarted without persistence between enqueue and processing', () => {
  it('--wait reports the lost batches; re-sending the submission is safe and completes the set', async () => {
    const dir = await mkdtemp(path.join(tmp, 'none-'));
    const server = await startPrivateRedis(dir, 'none');
    cleanups.push(server.stop);
    const env = envFor(server.url);
    const set = producerSet(1200, 'redis-src', 'redis');
    const file = path.join(tmp, 'redis.ndjson');
    await writeLines(file, set.lines);
    const submissionId = 'faults-redis-lost-1';
    const args = ['ingest', file, '--batch-size', '50', '--submission', submissionId, '--wait'];

    // No worker yet: the batches wait in Redis. The producer waits for the account meanwhile.
    const waiting = survflow([...args, '--no-local-worker', '--timeout', '90'], env);
    await waitFor(() => sealed(submissionId), 'the submission to be sealed', 60_000);
    await server.restart(); // SIGKILL, then an empty server on the same port

    const lost = await waiting;
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain('24 batches cannot be accounted');
    expect(lost.stderr).toMatch(
      /batches missing from Redis \(lost\): 0, 1, 2, .*23; re-run with the same files/,
    );
    const account = await getSubmissionAccount(testDb.db, submissionId);
    expect(account).toMatchObject({ sealed: true, complete: false, batchesAccounted: 0, submitted: 1200 });

    const worker: WorkerProcess = await startWorker(env);
    cleanups.push(worker.kill);
    const resent = await survflow(args, env);
    expect(resent.code, resent.stderr).toBe(0);
    expect(resent.stderr).toContain(`resuming submission ${submissionId}`);
    const done = await waitForComplete(testDb.db, submissionId, 30_000);
    expect(await ledgerCheck(testDb.db, 'redis-src', set, done)).toEqual(exactlyOnce(set));

    // Re-sending a complete submission again changes nothing.
    const again = await survflow(args, env);
    expect(again.code, again.stderr).toBe(0);
    const after = await getSubmissionAccount(testDb.db, submissionId);
    expect(await ledgerCheck(testDb.db, 'redis-src', set, after)).toEqual(exactlyOnce(set));
  }, 150_000);
});

describe('Redis with AOF (appendfsync always) killed between enqueue and processing', () => {
  it('keeps every enqueued batch: the submission completes without re-sending', async () => {
    const dir = await mkdtemp(path.join(tmp, 'aof-'));
    const server = await startPrivateRedis(dir, 'aof');
    cleanups.push(server.stop);
    const env = envFor(server.url);
    const set = producerSet(600, 'aof-src', 'aof');
    const file = path.join(tmp, 'aof.ndjson');
    await writeLines(file, set.lines);
    const sent = await survflow(['ingest', file, '--batch-size', '50', '--submission', 'faults-aof-1'], env);
    expect(sent.code, sent.stderr).toBe(0);
    await server.restart();

    const worker = await startWorker(env);
    cleanups.push(worker.kill);
    const done = await waitForComplete(testDb.db, 'faults-aof-1', 30_000);
    expect(await ledgerCheck(testDb.db, 'aof-src', set, done)).toEqual(exactlyOnce(set));
  }, 120_000);
});
