import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import {
  createRecomputeQueue,
  enqueueRecompute,
  type RecomputeQueue,
} from '../../src/jobs/recompute-queue.js';
import { createRedisConnection } from '../../src/jobs/redis.js';
import { createLogger } from '../../src/logger.js';
import { databaseNow, waitForRun } from '../../src/recompute/wait-for-run.js';
import type { ProcessorDefinition } from '../../src/workers/processor.js';
import { createRecomputeProcessor, recomputeProcessorDefinition } from '../../src/workers/recompute.js';
import { startWorkers, type WorkerRuntime } from '../../src/workers/runtime.js';
import { insertLedgerEvents, patientEvents, syntheticCohort } from '../support/ledger-fixture.js';
import {
  createTestDatabase,
  deleteQueuePrefix,
  type TestDatabase,
  testConfig,
  uniqueQueuePrefix,
} from '../support/test-env.js';

let testDb: TestDatabase;
let config: Config;
const prefix = uniqueQueuePrefix('recompute');
const logger = createLogger('silent');
const runtimes: WorkerRuntime[] = [];
const producer = () => createRedisConnection(config.redisUrl, 'producer', 'test');

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url, queuePrefix: prefix });
  await insertLedgerEvents(testDb.db, config, syntheticCohort(30, 4).flatMap(patientEvents));
});
afterAll(async () => {
  await Promise.allSettled(runtimes.map((r) => r.close()));
  await deleteQueuePrefix(prefix);
  await testDb?.close();
});

/** The production definition, with each run held open for a while so triggers land mid-run. */
const slowDefinition = (holdMs: number): ProcessorDefinition => ({
  ...recomputeProcessorDefinition,
  create: (deps) => createRecomputeProcessor(deps, { beforePublish: () => sleep(holdMs) }),
});

type Timed = { started_at: Date; finished_at: Date | null } | undefined;
const startOf = (run: Timed) => run?.started_at.getTime() ?? Number.NaN;
const finishOf = (run: Timed) => run?.finished_at?.getTime() ?? Number.NaN;

async function until(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await sleep(100);
  }
}

describe('recompute queue', () => {
  it('two workers, several triggers: one schedule, one run at a time, a mid-run trigger coalesced into one follow-up', async () => {
    for (let i = 0; i < 2; i++) {
      runtimes.push(
        await startWorkers({ config, db: testDb.db, logger, processors: [slowDefinition(1_500)] }),
      );
    }
    const connection = producer();
    const queue: RecomputeQueue = createRecomputeQueue(config, connection);
    try {
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers).toHaveLength(1);
      expect(schedulers[0]).toMatchObject({ key: 'recompute-nightly', pattern: '0 2 * * *', tz: 'UTC' });
      expect(await queue.getGlobalConcurrency()).toBe(1);

      const requestedAt = await databaseNow(testDb.db);
      await enqueueRecompute(queue, { cutoff: '2024-06-30', trigger: 'test' });
      await enqueueRecompute(queue, { cutoff: '2024-06-30', trigger: 'test' });
      // Two triggers before the run started: one job. Wait for it to be running, then trigger
      // three more times: exactly one follow-up run.
      await until(async () =>
        Boolean(
          await testDb.db.selectFrom('runs').select('id').where('status', '=', 'running').executeTakeFirst(),
        ),
      );
      for (let i = 0; i < 3; i++) await enqueueRecompute(queue, { cutoff: '2024-06-30', trigger: 'test' });
      const midRun = await databaseNow(testDb.db);

      const first = await waitForRun(testDb.db, { requestedAt, cutoff: '2024-06-30' }, { timeoutMs: 20_000 });
      expect(first.status).toBe('published');
      const followUp = await waitForRun(
        testDb.db,
        { requestedAt: midRun, cutoff: '2024-06-30' },
        { timeoutMs: 20_000 },
      );
      expect(followUp.status).toBe('published');
      expect(followUp.run?.id).not.toBe(first.run?.id);
      await until(async () => (await queue.getActiveCount()) + (await queue.getWaitingCount()) === 0);
      await sleep(500);

      const runs = await testDb.db
        .selectFrom('runs')
        .select(['id', 'status', 'started_at', 'finished_at', 'worker'])
        .orderBy('started_at')
        .execute();
      expect(runs).toHaveLength(2);
      expect(runs.every((r) => r.status === 'published')).toBe(true);
      expect(startOf(runs[1])).toBeGreaterThanOrEqual(finishOf(runs[0]));
      expect((await queue.getJobSchedulers()).length).toBe(1);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  }, 60_000);

  it('the advisory lock keeps two direct runs from overlapping', async () => {
    await sql`truncate runs cascade`.execute(testDb.db);
    const { runRecompute } = await import('../../src/recompute/run-recompute.js');
    const slow = { logger, beforePublish: () => sleep(800) };
    await Promise.all([
      runRecompute(testDb.db, config, { cutoff: '2024-06-30', trigger: 'test' }, slow),
      runRecompute(testDb.db, config, { cutoff: '2024-06-30', trigger: 'test' }, slow),
    ]);
    const runs = await testDb.db
      .selectFrom('runs')
      .select(['status', 'started_at', 'finished_at'])
      .orderBy('started_at')
      .execute();
    expect(runs.map((r) => r.status)).toEqual(['published', 'published']);
    expect(startOf(runs[1])).toBeGreaterThanOrEqual(finishOf(runs[0]));
  });
});
