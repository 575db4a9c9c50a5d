import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { runRecompute } from '../../src/recompute/run-recompute.js';
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
const cohort = syntheticCohort(40, 5);

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url });
});
afterAll(async () => {
  await testDb?.close();
});
beforeEach(async () => {
  await sql`truncate events, ingest_submissions, ingest_batches, runs, patient_facts, patient_facts_state cascade`.execute(
    testDb.db,
  );
  await insertLedgerEvents(testDb.db, config, cohort.flatMap(patientEvents));
});

const recompute = (cutoff: string, full = false, stages: string[] = []) =>
  runRecompute(
    testDb.db,
    config,
    { cutoff, trigger: 'test', full },
    { logger, onProgress: (p) => stages.push(p.stage) },
  );

const run = (id: string) =>
  testDb.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

/** Every row a run's results consist of, without the run id, in a fixed order (as JSON text). */
async function results(runId: string) {
  const { rows } = await sql<{ kind: string; row: string }>`
    select 'summary' as kind, (to_jsonb(s) - 'run_id')::text as row from run_summaries s where run_id = ${runId}
    union all
    select 'test', (to_jsonb(t) - 'run_id')::text from run_tests t where run_id = ${runId}
    union all
    select 'attrition', (to_jsonb(a) - 'run_id')::text from run_attrition a where run_id = ${runId}
    order by 1, 2`.execute(testDb.db);
  return rows;
}

const counts = (r: Awaited<ReturnType<typeof run>>) => [
  r.patients_in_ledger,
  r.patients_registered,
  r.patients_analysed,
  r.patients_landmark,
  r.patients_flagged,
];

describe('a run whose inputs did not change copies the latest published run results', () => {
  it('copies every summary, test, attrition row and count, and says where they came from', async () => {
    const first = await recompute('2024-06-30');
    const stages: string[] = [];
    const second = await recompute('2024-06-30', false, stages);
    expect(stages).toContain('copying results');
    expect(stages).not.toContain('summarizing');
    const [a, b] = [await run(first.runId), await run(second.runId)];
    expect(b.status).toBe('published');
    expect(b.results_reused_from).toBe(first.runId);
    expect(a.results_reused_from).toBeNull();
    expect(b.inputs_fingerprint).toBe(a.inputs_fingerprint);
    expect(counts(b)).toEqual(counts(a));
    const copied = await results(second.runId);
    expect(copied.filter((r) => r.kind === 'summary').length).toBeGreaterThan(5);
    expect(copied.filter((r) => r.kind === 'test').length).toBeGreaterThan(0);
    expect(copied).toEqual(await results(first.runId));
    // The latest run served to readers is the new one, with the same summaries.
    const latest = await testDb.db.selectFrom('latest_summaries').select('run_id').distinct().execute();
    expect(latest).toEqual([{ run_id: second.runId }]);
  });

  it('computes again when a fact changed, when the cutoff moved, and on --full', async () => {
    const first = await recompute('2024-06-30');
    // Same facts, another cutoff: the parameters differ (and times may), so the run computes.
    const moved = await recompute('2024-07-31');
    expect((await run(moved.runId)).results_reused_from).toBeNull();
    expect((await run(moved.runId)).inputs_fingerprint).not.toBe((await run(first.runId)).inputs_fingerprint);

    const full = await recompute('2024-07-31', true);
    expect((await run(full.runId)).results_reused_from).toBeNull();
    expect(await results(full.runId)).toEqual(await results(moved.runId));

    const dead = cohort.filter((p) => p.diedOn).slice(0, 3);
    expect(dead.length).toBe(3);
    await insertLedgerEvents(
      testDb.db,
      config,
      dead.map((p) => retraction('ehr', p.id, `${p.id}-death`, '2024-07-15')),
    );
    const changed = await recompute('2024-07-31');
    const row = await run(changed.runId);
    expect(row.results_reused_from).toBeNull();
    expect(row.inputs_fingerprint).not.toBe((await run(full.runId)).inputs_fingerprint);
    expect(await results(changed.runId)).not.toEqual(await results(full.runId));
  });

  it('copies when new events change no combination (the patients derived again come out the same)', async () => {
    const first = await recompute('2024-06-30');
    const patient = cohort.find((p) => p.diedOn !== undefined && p.diedOn <= '2024-06-30');
    if (!patient) throw new Error('the cohort has no patient who died by the cutoff');
    // A contact on the day of the first cycle: before the death and before the latest contact,
    // so the patient's derived row, and every combination, stays as it was.
    await insertLedgerEvents(testDb.db, config, [
      followUpContact(patient.id, `${patient.id}-extra-contact`, patient.startOn),
    ]);
    const second = await recompute('2024-06-30');
    const row = await run(second.runId);
    expect(row.facts_mode).toBe('incremental');
    expect(row.patients_rederived).toBe(1);
    expect(row.results_reused_from).toBe(first.runId);
    expect(await results(second.runId)).toEqual(await results(first.runId));

    // One that does change the patient's row (its death retracted): computed again.
    await insertLedgerEvents(testDb.db, config, [
      retraction('ehr', patient.id, `${patient.id}-death`, '2024-06-30'),
    ]);
    const third = await recompute('2024-06-30');
    expect((await run(third.runId)).results_reused_from).toBeNull();
    expect((await run(third.runId)).inputs_fingerprint).not.toBe(row.inputs_fingerprint);
  });

  it('a copy outlives the run it came from (pruning history deletes old runs)', async () => {
    const first = await recompute('2024-06-30');
    const second = await recompute('2024-06-30');
    const copied = await results(second.runId);
    await testDb.db.deleteFrom('runs').where('id', '=', first.runId).execute();
    expect(await results(first.runId)).toEqual([]);
    expect((await run(second.runId)).results_reused_from).toBeNull();
    expect(await results(second.runId)).toEqual(copied);
  });

  it('reuses only the latest published run: a failed run in between changes nothing', async () => {
    const first = await recompute('2024-06-30');
    await expect(
      runRecompute(
        testDb.db,
        config,
        { cutoff: '2024-06-30', trigger: 'test' },
        {
          logger,
          beforePublish: async () => {
            throw new Error('simulated failure');
          },
        },
      ),
    ).rejects.toThrow('simulated failure');
    const third = await recompute('2024-06-30');
    expect((await run(third.runId)).results_reused_from).toBe(first.runId);
    expect(await results(third.runId)).toEqual(await results(first.runId));
  });
});
