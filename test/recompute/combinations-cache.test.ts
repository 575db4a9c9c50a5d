import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { CombinationsCache } from '../../src/recompute/combinations-cache.js';
import { loadCurrentCombinations } from '../../src/recompute/patient-combinations.js';
import { runRecompute } from '../../src/recompute/run-recompute.js';
import { SummaryThreads } from '../../src/recompute/summary-threads.js';
import { canonicalOrder } from '../support/canonical-order.js';
import {
  followUpContact,
  insertLedgerEvents,
  patientEvents,
  retraction,
  syntheticCohort,
} from '../support/ledger-fixture.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

let testDb: TestDatabase;
let config: Config;
const logger = createLogger('silent');
const cohort = syntheticCohort(60, 11);

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url });
});
const threads = new SummaryThreads(1);
afterAll(async () => {
  await threads.close();
  await testDb?.close();
});

const recompute = (cache: CombinationsCache, cutoff: string, full = false) =>
  runRecompute(testDb.db, config, { cutoff, trigger: 'test', full }, { logger, combinations: cache });

/**
 * What `cache` holds now equals the table (asked under the current name, a held copy answers
 * without reading the database).
 */
async function expectHeldAsTable(cache: CombinationsCache) {
  const state = await testDb.db
    .selectFrom('patient_facts_state')
    .select('combinations_run_no')
    .executeTakeFirstOrThrow();
  const held = await cache.current(testDb.db, { combinationsRunNo: state.combinations_run_no });
  expect(cache.lastSource).toBe('held');
  expect(canonicalOrder(held)).toEqual(canonicalOrder(await loadCurrentCombinations(testDb.db)));
}

describe("a worker's copy of the patient combinations", () => {
  it('follows every refresh: changes applied to the copy it started from, else read whole', async () => {
    const a = new CombinationsCache();
    const b = new CombinationsCache();
    await insertLedgerEvents(testDb.db, config, cohort.slice(0, 40).flatMap(patientEvents));

    await recompute(a, '2024-06-30');
    expect(a.lastSource).toBe('database');
    await expectHeldAsTable(a);

    // New patients, and deaths withdrawn: combinations gain, lose and drop to zero.
    const dead = cohort.slice(0, 40).filter((p) => p.diedOn !== undefined && p.diedOn <= '2024-06-30');
    expect(dead.length).toBeGreaterThan(5);
    await insertLedgerEvents(testDb.db, config, [
      ...cohort.slice(40, 50).flatMap(patientEvents),
      ...dead.slice(0, 5).map((p) => retraction('ehr', p.id, `${p.id}-death`, '2024-06-30')),
    ]);
    await recompute(a, '2024-06-30');
    expect(a.lastSource).toBe('held + changes');
    await expectHeldAsTable(a);

    // The cutoff moves back: facts after it leave the combinations.
    await recompute(a, '2022-12-31');
    expect(a.lastSource).toBe('held + changes');
    await expectHeldAsTable(a);

    // Another worker process runs in between: the first one's copy is stale and is read again.
    await insertLedgerEvents(testDb.db, config, cohort.slice(50, 55).flatMap(patientEvents));
    await recompute(b, '2024-06-30');
    expect(b.lastSource).toBe('database');
    await insertLedgerEvents(testDb.db, config, cohort.slice(55, 60).flatMap(patientEvents));
    await recompute(a, '2024-06-30');
    expect(a.lastSource).toBe('database');
    await expectHeldAsTable(a);

    // A full rebuild reports no changes: read whole.
    await recompute(a, '2024-06-30', true);
    expect(a.lastSource).toBe('database');
    await expectHeldAsTable(a);

    // A re-derived patient whose row came out as it was, and a cutoff that moves no fact: the
    // name stays and the copy is used as it is (the run computes: its cutoff is another).
    const patient = cohort[0];
    if (!patient) throw new Error('empty cohort');
    await insertLedgerEvents(testDb.db, config, [
      followUpContact(patient.id, `${patient.id}-extra-contact`, patient.startOn),
    ]);
    const before = await testDb.db
      .selectFrom('runs')
      .select('run_no')
      .orderBy('run_no', 'desc')
      .executeTakeFirst();
    await recompute(a, '2024-07-31');
    expect(a.lastSource).toBe('held');
    await expectHeldAsTable(a);
    const { rows } = await sql<{ reused: boolean }>`
      select results_reused_from is not null as reused from runs where run_no > ${before?.run_no ?? '0'}`.execute(
      testDb.db,
    );
    expect(rows).toEqual([{ reused: false }]);
  });

  it('gives every run the results a run reading the database gives', async () => {
    const cache = new CombinationsCache();
    await recompute(cache, '2024-05-31');
    await insertLedgerEvents(testDb.db, config, [
      retraction('ehr', 'P0003', 'P0003-c1', '2024-06-01'),
      retraction('ehr', 'P0007', 'P0007-reg', '2024-06-01'),
    ]);
    const cached = await recompute(cache, '2024-06-30');
    expect(cache.lastSource).toBe('held + changes');
    const read = await runRecompute(
      testDb.db,
      config,
      { cutoff: '2024-06-30', trigger: 'test', full: true },
      { logger },
    );
    const results = async (runId: string) =>
      (
        await sql<{ row: string }>`
          select (to_jsonb(s) - 'run_id')::text as row from run_summaries s where run_id = ${runId}
          union all
          select (to_jsonb(a) - 'run_id')::text from run_attrition a where run_id = ${runId}
          order by 1`.execute(testDb.db)
      ).rows;
    expect((await results(cached.runId)).length).toBeGreaterThan(5);
    expect(await results(cached.runId)).toEqual(await results(read.runId));
  });
});

/** Every stored result of a run (summaries and attrition), without its id, in one order. */
async function storedResults(runId: string): Promise<string[]> {
  const { rows } = await sql<{ row: string }>`
    select (to_jsonb(s) - 'run_id')::text as row from run_summaries s where run_id = ${runId}
    union all
    select (to_jsonb(t) - 'run_id')::text from run_tests t where run_id = ${runId}
    union all
    select (to_jsonb(a) - 'run_id')::text from run_attrition a where run_id = ${runId}
    order by 1`.execute(testDb.db);
  return rows.map((r) => r.row);
}

describe('results started from changes the refresh has not committed yet', () => {
  // The run's own log says whether its results were started before the refresh committed.
  const logged: { msg?: string; runId?: string; startedEarly?: boolean }[] = [];
  const capturing = createLogger('info', { write: (line: string) => logged.push(JSON.parse(line)) });
  const withThreads = (cache: CombinationsCache, cutoff: string, partitionMinPatients = 500) =>
    runRecompute(
      testDb.db,
      { ...config, recompute: { ...config.recompute, partitionMinPatients } },
      { cutoff, trigger: 'test' },
      { logger: capturing, combinations: cache, summaryThreads: threads },
    );
  const readWhole = (cutoff: string) =>
    runRecompute(testDb.db, config, { cutoff, trigger: 'test' }, { logger });
  const startedEarly = (runId: string) =>
    logged.find((line) => line.runId === runId && line.msg === 'results computed')?.startedEarly;

  it('give the results a run reading the combinations whole gives, with the derivation in one statement or in partitions', async () => {
    const cache = new CombinationsCache();
    await withThreads(cache, '2024-08-31');
    expect(cache.lastSource).toBe('database');
    for (const [step, partitionMinPatients] of [
      [0, 500],
      [1, 1],
    ] as const) {
      const patient = cohort[10 + step];
      if (!patient) throw new Error('empty cohort');
      // A patient's death withdrawn and another's registration: combinations change.
      await insertLedgerEvents(testDb.db, config, [
        retraction('ehr', patient.id, `${patient.id}-reg`, '2024-08-01'),
        followUpContact(cohort[20 + step]?.id ?? 'P0001', `late-contact-${step}`, '2024-08-15'),
      ]);
      const early = await withThreads(cache, '2024-08-31', partitionMinPatients);
      expect(cache.lastSource).toBe('held + changes');
      expect(startedEarly(early.runId)).toBe(true);
      await expectHeldAsTable(cache);
      const read = await readWhole('2024-08-31');
      expect((await storedResults(early.runId)).length).toBeGreaterThan(5);
      expect(await storedResults(early.runId)).toEqual(await storedResults(read.runId));
      // The run reading whole changed nothing: the copy is still the table's.
      await expectHeldAsTable(cache);
    }
  });

  it('are dropped with the copy when the refresh fails after announcing them: the next run reads whole', async () => {
    const cache = new CombinationsCache();
    await withThreads(cache, '2024-09-30');
    // New patients only: their changes all add, so a copy that kept them after the failure
    // would not be caught by a count going negative when they are applied again.
    await insertLedgerEvents(testDb.db, config, syntheticCohort(64, 11).slice(60).flatMap(patientEvents));
    const before = await loadCurrentCombinations(testDb.db);
    // The refresh fails at its last write, after the changes were announced and applied.
    await sql`create function fail_state_write() returns trigger language plpgsql as $$
      begin raise exception 'planted failure'; end $$`.execute(testDb.db);
    await sql`create trigger fail_state_write before insert or update on patient_facts_state
      for each row execute function fail_state_write()`.execute(testDb.db);
    try {
      const applied = vi.spyOn(cache, 'applyUncommitted');
      await expect(withThreads(cache, '2024-09-30')).rejects.toThrow(/planted failure/);
      // The failed refresh had announced its changes, and the copy had taken them.
      expect(applied).toHaveBeenCalledTimes(1);
      expect(applied.mock.results[0]?.value).toEqual(expect.any(Array));
      applied.mockRestore();
    } finally {
      await sql`drop trigger fail_state_write on patient_facts_state`.execute(testDb.db);
      await sql`drop function fail_state_write()`.execute(testDb.db);
    }
    expect(canonicalOrder(await loadCurrentCombinations(testDb.db))).toEqual(canonicalOrder(before));

    const next = await withThreads(cache, '2024-09-30');
    expect(cache.lastSource).toBe('database');
    expect(startedEarly(next.runId)).toBe(false);
    await expectHeldAsTable(cache);
    const read = await readWhole('2024-09-30');
    expect(await storedResults(next.runId)).toEqual(await storedResults(read.runId));
  });
});
