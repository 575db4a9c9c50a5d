import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { RecomputeBusyError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { pruneHistory } from '../../src/recompute/prune-history.js';
import { RECOMPUTE_LOCK_KEY, runRecompute } from '../../src/recompute/run-recompute.js';
import { CLI_MAIN, REPO_ROOT } from '../support/cli.js';
import { insertLedgerEvents, patientEvents, retraction, syntheticCohort } from '../support/ledger-fixture.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

let testDb: TestDatabase;
let config: Config;
const logger = createLogger('silent');
const cohort = syntheticCohort(30, 9);

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url });
});
afterAll(async () => {
  await testDb?.close();
});

const recompute = (cutoff: string, full = false) =>
  runRecompute(testDb.db, config, { cutoff, trigger: 'test', full }, { logger });

/** Each run's patient rows and summaries, as JSON text per run (what readers can still see). */
async function visible(db: Kysely<Database>) {
  const { rows } = await sql<{ run_id: string; patients: string; summaries: string }>`
    select r.id as run_id,
      (select coalesce(string_agg((to_jsonb(p) - 'run_id')::text, E'\\n' order by p.patient_key), '')
         from run_patients p where p.run_id = r.id) as patients,
      (select coalesce(string_agg((to_jsonb(s) - 'run_id')::text, E'\\n' order by s.position), '')
         from run_summaries s where s.run_id = r.id) as summaries
    from runs r order by r.run_no`.execute(db);
  return rows;
}

/** Four runs with changes between them (a retraction, a moved cutoff, a full rebuild); the first two made 100 days ago. */
async function history() {
  await sql`truncate events, ingest_submissions, ingest_batches, runs, patient_facts, patient_facts_state cascade`.execute(
    testDb.db,
  );
  await insertLedgerEvents(testDb.db, config, cohort.flatMap(patientEvents));
  const runs = [await recompute('2023-12-31')];
  const dead = cohort.filter((p) => p.diedOn).slice(0, 2);
  await insertLedgerEvents(
    testDb.db,
    config,
    dead.map((p) => retraction('ehr', p.id, `${p.id}-death`, '2024-07-15')),
  );
  runs.push(await recompute('2024-03-31'));
  runs.push(await recompute('2024-06-30', true));
  runs.push(await recompute('2024-07-31'));
  await sql`update runs set started_at = started_at - interval '100 days'
    where id in (${runs[0]?.runId}, ${runs[1]?.runId})`.execute(testDb.db);
  return runs.map((r) => r.runId);
}

const versionCount = async () =>
  Number(
    (await sql<{ n: string }>`select count(*)::text as n from patient_facts`.execute(testDb.db)).rows[0]?.n,
  );

describe('pruning recompute history', () => {
  it('deletes old runs and the versions only they saw; every remaining run reads as before', async () => {
    const ids = await history();
    const before = await visible(testDb.db);
    const versionsBefore = await versionCount();
    const startedBefore = new Date(Date.now() - 30 * 86_400_000);

    const dry = await pruneHistory(testDb.db, { startedBefore, dryRun: true });
    expect(dry).toMatchObject({ runs: 2, keptRuns: 2, dryRun: true });
    expect(dry.versions).toBeGreaterThan(0);
    expect(await visible(testDb.db)).toEqual(before);
    expect(await versionCount()).toBe(versionsBefore);

    const done = await pruneHistory(testDb.db, { startedBefore });
    expect(done).toEqual({ ...dry, dryRun: false });
    expect(await versionCount()).toBe(versionsBefore - done.versions);
    const after = await visible(testDb.db);
    expect(after.map((r) => r.run_id)).toEqual(ids.slice(2));
    expect(after).toEqual(before.slice(2));
    expect(after.every((r) => r.patients.length > 0 && r.summaries.length > 0)).toBe(true);

    // Nothing left to prune; the next run still works incrementally from the current versions.
    expect(await pruneHistory(testDb.db, { startedBefore })).toMatchObject({ runs: 0, versions: 0 });
    const next = await recompute('2024-08-31');
    const mode = await testDb.db
      .selectFrom('runs')
      .select('facts_mode')
      .where('id', '=', next.runId)
      .executeTakeFirstOrThrow();
    expect(mode.facts_mode).toBe('incremental');
  });

  it('always keeps the latest published run, however old', async () => {
    const ids = await history();
    await sql`update runs set started_at = started_at - interval '1000 days'`.execute(testDb.db);
    const latest = (await visible(testDb.db)).at(-1);
    const outcome = await pruneHistory(testDb.db, { startedBefore: new Date() });
    expect(outcome).toMatchObject({ runs: 3, keptRuns: 1 });
    expect(await visible(testDb.db)).toEqual([latest]);
    expect((await testDb.db.selectFrom('latest_run').select('id').executeTakeFirst())?.id).toBe(ids[3]);
  });

  it('refuses while a recompute holds the lock, and deletes nothing', async () => {
    await history();
    const versionsBefore = await versionCount();
    await testDb.db.connection().execute(async (connection) => {
      await sql`select pg_advisory_lock(${RECOMPUTE_LOCK_KEY}::bigint)`.execute(connection);
      try {
        await expect(pruneHistory(testDb.db, { startedBefore: new Date() })).rejects.toBeInstanceOf(
          RecomputeBusyError,
        );
      } finally {
        await sql`select pg_advisory_unlock(${RECOMPUTE_LOCK_KEY}::bigint)`.execute(connection);
      }
    });
    expect(await versionCount()).toBe(versionsBefore);
    expect((await visible(testDb.db)).length).toBe(4);
  });

  it('survflow prune --dry-run prints the counts; a bad --older-than exits 2', async () => {
    await history();
    const run = promisify(execFile);
    const env = { ...process.env, DATABASE_URL: testDb.url, LOG_LEVEL: 'silent' };
    const dry = await run(process.execPath, [CLI_MAIN, 'prune', '--older-than', '30', '--dry-run'], {
      cwd: REPO_ROOT,
      env,
    });
    expect(dry.stdout).toMatch(
      /^would delete 2 runs started before .* and \d+ patient-fact versions .*; 2 runs kept\n$/,
    );
    expect((await visible(testDb.db)).length).toBe(4);
    const bad = await run(process.execPath, [CLI_MAIN, 'prune', '--older-than', 'soon'], {
      cwd: REPO_ROOT,
      env,
    }).catch((error: { code: number; stderr: string }) => error);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('--older-than') });
  });
});
