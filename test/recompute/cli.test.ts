import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { recomputeProcessorDefinition } from '../../src/workers/recompute.js';
import { startWorkers, type WorkerRuntime } from '../../src/workers/runtime.js';
import { CLI_MAIN } from '../support/cli.js';
import { insertLedgerEvents, patientEvents, syntheticCohort } from '../support/ledger-fixture.js';
import {
  createTestDatabase,
  deleteQueuePrefix,
  type TestDatabase,
  testConfig,
  uniqueQueuePrefix,
} from '../support/test-env.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

let testDb: TestDatabase;
let config: Config;
let runtime: WorkerRuntime | undefined;
const prefix = uniqueQueuePrefix('recompute-cli');

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url, queuePrefix: prefix });
  await insertLedgerEvents(testDb.db, config, syntheticCohort(25, 2).flatMap(patientEvents));
  runtime = await startWorkers({
    config,
    db: testDb.db,
    logger: createLogger('silent'),
    processors: [recomputeProcessorDefinition],
  });
});
afterAll(async () => {
  await runtime?.close();
  await deleteQueuePrefix(prefix);
  await testDb?.close();
});

function cli(args: string[]) {
  return run(process.execPath, [CLI_MAIN, ...args], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: testDb.url,
      REDIS_URL: config.redisUrl,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'silent',
      NODE_ENV: 'test',
    },
    timeout: 60_000,
  });
}

describe('survflow recompute / summary', () => {
  it('recompute --wait prints the published run id; summary prints it as table, json and csv', async () => {
    const recompute = await cli(['recompute', '--cutoff', '2024-06-30', '--wait']);
    const runId = recompute.stdout.trim();
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);
    const latest = await testDb.db
      .selectFrom('latest_run')
      .select(['id', 'cutoff'])
      .executeTakeFirstOrThrow();
    expect(latest).toEqual({ id: runId, cutoff: '2024-06-30' });

    const json = JSON.parse((await cli(['summary', '--format', 'json'])).stdout);
    expect(Object.keys(json)).toEqual(['run', 'attrition', 'summaries', 'tests']);
    expect(json.run.id).toBe(runId);
    expect(json.summaries[0]).toMatchObject({ grouping: 'overall', group: 'all', n: 25 });

    const table = (await cli(['summary', '--run', runId])).stdout;
    expect(table).toContain(`Run ${runId}  cutoff 2024-06-30`);
    expect(table).toMatch(/overall\s+all\s+25\s+\d+\s+(\d+\.\d|NR) \((\d+\.\d|NR)-(\d+\.\d|NR)\)/);

    const csv = (await cli(['summary', '--format', 'csv'])).stdout.trim().split('\r\n');
    expect(csv[0]?.startsWith('run_id,cutoff,grouping,group,suppressed,n,events,censored,median')).toBe(true);
    expect(csv).toHaveLength(1 + json.summaries.length);
  }, 90_000);

  it('summary of an unknown run exits 2 with a message', async () => {
    await expect(cli(['summary', '--run', 'no-such-run'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no published run with id no-such-run'),
    });
  }, 30_000);
});
