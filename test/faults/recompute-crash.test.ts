import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../support/runtime.js';
import {
  createTestDatabase,
  deleteQueuePrefix,
  type TestDatabase,
  uniqueQueuePrefix,
} from '../support/test-env.js';
import { FAST_RECOVERY_ENV, startWorker, survflow, type WorkerProcess } from './harness.js';

let testDb: TestDatabase;
let env: NodeJS.ProcessEnv;
let tmp: string;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase();
  tmp = await mkdtemp(path.join(tmpdir(), 'survflow-faults-rc-'));
  env = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: testDb.url,
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: uniqueQueuePrefix('faults-rc'),
    ...FAST_RECOVERY_ENV,
    // A killed worker's recompute job blocks the queue until its lock expires (default 5 min).
    RECOMPUTE_LOCK_DURATION_MS: '8000',
  };
});
afterEach(() => {
  for (const w of workers.splice(0)) w.kill();
});
afterAll(async () => {
  for (const w of workers) w.kill();
  await testDb?.close();
  if (env?.QUEUE_PREFIX) await deleteQueuePrefix(env.QUEUE_PREFIX);
  await rm(tmp, { recursive: true, force: true });
});

type RunRow = { id: string; status: string; stage: string | null };
const runs = async () =>
  (await sql<RunRow>`select id::text, status, stage from runs order by started_at, id`.execute(testDb.db))
    .rows;
const latest = async () =>
  (await sql<{ id: string }>`select id::text from latest_run`.execute(testDb.db)).rows[0]?.id;
const latestSummaries = async () =>
  (
    await sql<Record<string, unknown>>`
      select grouping, group_label, n, events, censored, median, median_lower, median_upper
      from latest_summaries order by grouping, position`.execute(testDb.db)
  ).rows;

describe('a recompute process killed mid-run', () => {
  it('the previous run stays published; the next run succeeds', async () => {
    const file = path.join(tmp, 'cohort.ndjson');
    const synth = await survflow(['synth', '--patients', '300', '--seed', '7', '--out', file], env);
    expect(synth.code, synth.stderr).toBe(0);
    const first = await startWorker(env, 'first worker');
    workers.push(first);
    const ingest = await survflow(['ingest', file, '--wait', '--timeout', '120'], env, 150_000);
    expect(ingest.code, ingest.stderr).toBe(0);

    const published = await survflow(
      ['recompute', '--cutoff', '2024-06-30', '--wait', '--timeout', '60'],
      env,
    );
    expect(published.code, published.stderr).toBe(0);
    const run1 = published.stdout.trim();
    expect(await latest()).toBe(run1);
    const summaries1 = await latestSummaries();
    expect(summaries1.length).toBeGreaterThan(5);

    // Ask for a second run and kill the worker while it is writing its summaries: a lock held
    // here (readers can still read) keeps the run there however fast the machine is.
    const blocker = new pg.Client({ connectionString: testDb.url });
    await blocker.connect();
    await blocker.query('begin');
    await blocker.query('lock table run_summaries in share mode');
    // --full: with the same inputs a plain run would copy run1's results instead of computing
    // and writing its own (see reuse-results.ts); this test is about a run killed while writing.
    const asked = await survflow(['recompute', '--cutoff', '2024-06-30', '--full'], env);
    expect(asked.code, asked.stderr).toBe(0);
    const run2 = await waitFor(
      async () =>
        (await runs()).find(
          (r) => r.id !== run1 && r.status === 'running' && r.stage === 'writing summaries',
        ),
      'the second run to be writing its summaries',
      60_000,
    );
    first.proc.kill('SIGKILL');
    await first.exited;
    await blocker.query('rollback');
    await blocker.end();
    const killed = (await runs()).find((r) => r.id === run2.id);
    expect(killed?.status).toBe('running'); // died mid-run, before publication
    expect(await latest()).toBe(run1); // readers still see the previous run, unchanged
    expect(await latestSummaries()).toEqual(summaries1);

    const second = await startWorker(env, 'restarted worker');
    workers.push(second);
    const next = await survflow(
      ['recompute', '--cutoff', '2024-06-30', '--wait', '--timeout', '90'],
      env,
      120_000,
    );
    expect(next.code, next.stderr).toBe(0);
    const run3 = next.stdout.trim();
    expect(run3).not.toBe(run1);
    // The recovered job of the killed run may start one more run after run3 (BullMQ's stalled
    // check hands it to the restarted worker): wait for it to end, then the latest is a new,
    // published run either way.
    const all = await waitFor(
      async () => {
        const now = await runs();
        return now.some((r) => r.status === 'running') ? undefined : now;
      },
      'no run to be running',
      60_000,
    );
    expect(all.find((r) => r.id === run3)?.status).toBe('published');
    const newest = await latest();
    expect(newest).not.toBe(run1);
    expect(all.find((r) => r.id === newest)?.status).toBe('published');
    expect(all.find((r) => r.id === run2.id)?.status).toBe('abandoned');
    expect(all.filter((r) => r.status === 'running')).toEqual([]);
    // Same ledger, same cutoff: the new run publishes the same figures.
    expect(await latestSummaries()).toEqual(summaries1);
  }, 200_000);
});
