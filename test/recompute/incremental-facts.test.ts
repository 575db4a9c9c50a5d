import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import type { SurvEvent } from '../../src/contract/events.js';
import type { Database } from '../../src/db/database.js';
import { createLogger } from '../../src/logger.js';
import { LEDGER_WRITE_LOCK_KEY, readLedgerHighWater } from '../../src/recompute/ledger-high-water.js';
import {
  loadCurrentCombinations,
  loadPatientCombinations,
} from '../../src/recompute/patient-combinations.js';
import { runRecompute } from '../../src/recompute/run-recompute.js';
import { canonicalOrder } from '../support/canonical-order.js';
import {
  followUpContact,
  insertLedgerEvents,
  patientEvents,
  patientKeyOf,
  retraction,
  syntheticCohort,
} from '../support/ledger-fixture.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

/**
 * Incremental recompute must give exactly what a full derivation gives. Every step adds events
 * to the ledger out of clinical order (late arrivals, retractions, a retraction naming another
 * patient) and moves the cutoff forward, backward or not at all; the incremental run's patient
 * rows and summaries are compared with a full run over the same events in a second database.
 */
let incremental: TestDatabase;
let reference: TestDatabase;
let config: Config;
let referenceConfig: Config;
const logger = createLogger('silent');

beforeAll(async () => {
  [incremental, reference] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  config = testConfig({ databaseUrl: incremental.url });
  // The reference's full runs derive in three partitions (the incremental database's first run,
  // also full, in the default two): every comparison below is also one of partitioned rebuilds.
  referenceConfig = testConfig({ databaseUrl: reference.url, env: { RECOMPUTE_DERIVE_PARTITIONS: '3' } });
});
afterAll(async () => {
  await incremental?.close();
  await reference?.close();
});

function seededRandom(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

// Combinations come in no particular order: compared as sets, in one canonical order.
async function currentCombinations(db: Kysely<Database>) {
  return canonicalOrder(await loadCurrentCombinations(db));
}

async function runCombinations(db: Kysely<Database>, runId: string) {
  return canonicalOrder(await loadPatientCombinations(db, runId));
}

async function patientRows(db: Kysely<Database>, runId: string) {
  const rows = await db.selectFrom('run_patients').selectAll().where('run_id', '=', runId).execute();
  return rows
    .map(({ run_id: _runId, ...rest }) => rest)
    .sort((a, b) => (a.patient_key < b.patient_key ? -1 : a.patient_key > b.patient_key ? 1 : 0));
}

/** How a run's patient facts were refreshed. */
function factsOf(runId: string) {
  return incremental.db
    .selectFrom('runs')
    .select(['facts_mode', 'patients_rederived'])
    .where('id', '=', runId)
    .executeTakeFirstOrThrow();
}

async function summaries(db: Kysely<Database>, runId: string) {
  const rows = await db
    .selectFrom('run_summaries')
    .select(['grouping', 'group_label', 'n', 'events', 'median', 'median_lower', 'median_upper', 'rmst'])
    .where('run_id', '=', runId)
    .orderBy('position')
    .execute();
  return rows;
}

/**
 * Holds the ledger-write advisory lock in a transaction of its own (shared: as an INSERT into
 * `events` does; exclusive: as the high-water mark read does) until `release()`.
 */
async function holdLedgerWriteLock(mode: 'shared' | 'exclusive') {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked: () => void = () => {};
  const lockTaken = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const transaction = incremental.db.transaction().execute(async (trx) => {
    await (mode === 'shared'
      ? sql`select pg_advisory_xact_lock_shared(${LEDGER_WRITE_LOCK_KEY}::bigint)`
      : sql`select pg_advisory_xact_lock(${LEDGER_WRITE_LOCK_KEY}::bigint)`
    ).execute(trx);
    locked();
    await held;
  });
  await lockTaken;
  return {
    release: async () => {
      release();
      await transaction;
    },
  };
}

describe('incremental patient facts', () => {
  it.each([
    [11, 'one statement'],
    [29, 'partitions'],
  ])(
    'equal a full derivation after every step (seed %i, touched patients derived in %s)',
    async (seed, how) => {
      // With a threshold of one patient every incremental refresh derives in (two) partitions.
      const runConfig =
        how === 'partitions'
          ? { ...config, recompute: { ...config.recompute, partitionMinPatients: 1 } }
          : config;
      await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(incremental.db);
      const random = seededRandom(seed);
      const pending: SurvEvent[] = syntheticCohort(60, seed).flatMap(patientEvents);
      const sent: SurvEvent[] = [];
      const cutoffs = ['2020-09-30', '2021-03-31', '2021-03-31', '2021-01-15', '2022-06-30', '2024-06-30'];

      for (const [step, cutoff] of cutoffs.entries()) {
        // A random share of what has not been sent yet, in no particular order.
        const batch = pending.filter(() => random() < 0.4);
        for (const event of batch) pending.splice(pending.indexOf(event), 1);
        if (step === 2 || step === 4) {
          const targets = sent.filter(
            (e) => e.type !== 'patient.registered' && !e.eventId.startsWith('retract-'),
          );
          for (let i = 0; i < 3 && targets.length > 0; i++) {
            const target = targets.splice(Math.floor(random() * targets.length), 1)[0] as SurvEvent;
            // The last one names another patient: the retraction still withdraws its target.
            const patientId = i === 2 ? 'someone-else' : target.patientId;
            batch.push(retraction(target.source, patientId, target.eventId, cutoff));
          }
        }
        sent.push(...batch);
        if (batch.length > 0) await insertLedgerEvents(incremental.db, config, batch);

        const run = await runRecompute(incremental.db, runConfig, { cutoff, trigger: 'test' }, { logger });
        const mode = await factsOf(run.runId);
        expect(mode.facts_mode).toBe(step === 0 ? 'full' : 'incremental');
        if (step > 0 && how === 'partitions') expect(mode.patients_rederived).toBeGreaterThan(0);

        await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(reference.db);
        await insertLedgerEvents(reference.db, referenceConfig, sent);
        const full = await runRecompute(
          reference.db,
          referenceConfig,
          { cutoff, trigger: 'test', full: true },
          { logger },
        );

        const [got, want] = await Promise.all([
          patientRows(incremental.db, run.runId),
          patientRows(reference.db, full.runId),
        ]);
        expect(got.length).toBeGreaterThan(0);
        expect(got).toEqual(want);
        // The maintained combination counts are those of the run's rows.
        expect(await currentCombinations(incremental.db)).toEqual(
          await runCombinations(incremental.db, run.runId),
        );
        expect(await summaries(incremental.db, run.runId)).toEqual(await summaries(reference.db, full.runId));
      }
    },
  );

  it('re-derives only the touched patients, and keeps every earlier run readable', async () => {
    await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(incremental.db);
    const cohort = syntheticCohort(30, 5);
    await insertLedgerEvents(incremental.db, config, cohort.flatMap(patientEvents));
    const first = await runRecompute(
      incremental.db,
      config,
      { cutoff: '2024-06-30', trigger: 'test' },
      { logger },
    );
    const before = await patientRows(incremental.db, first.runId);

    // Nothing new, same cutoff: nobody is derived again.
    const same = await runRecompute(
      incremental.db,
      config,
      { cutoff: '2024-06-30', trigger: 'test' },
      { logger },
    );
    const sameRun = await factsOf(same.runId);
    expect(sameRun).toEqual({ facts_mode: 'incremental', patients_rederived: 0 });

    // One new contact for one patient: one patient derived again.
    const patient = cohort[0];
    if (!patient) throw new Error('empty cohort');
    await insertLedgerEvents(incremental.db, config, [
      followUpContact(patient.id, `${patient.id}-late-contact`, '2024-06-01'),
    ]);
    const next = await runRecompute(
      incremental.db,
      config,
      { cutoff: '2024-06-30', trigger: 'test' },
      { logger },
    );
    const nextRun = await incremental.db
      .selectFrom('runs')
      .select(['patients_rederived'])
      .where('id', '=', next.runId)
      .executeTakeFirstOrThrow();
    expect(nextRun.patients_rederived).toBe(1);

    // The first run still reads exactly as it was published.
    expect(await patientRows(incremental.db, first.runId)).toEqual(before);
    const changed = (await patientRows(incremental.db, next.runId)).filter(
      (row, i) => JSON.stringify(row) !== JSON.stringify(before[i]),
    );
    expect(changed.length).toBeLessThanOrEqual(1);
  });

  it('a retraction that names another patient still re-derives its target patient', async () => {
    await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(incremental.db);
    const cohort = syntheticCohort(20, 8);
    const dead = cohort.find((p) => p.diedOn !== undefined);
    if (!dead) throw new Error('no death in the cohort');
    await insertLedgerEvents(incremental.db, config, cohort.flatMap(patientEvents));
    await runRecompute(incremental.db, config, { cutoff: '2024-06-30', trigger: 'test' }, { logger });

    const correction = retraction('ehr', 'someone-else', `${dead.id}-death`, '2024-06-30');
    await insertLedgerEvents(incremental.db, config, [correction]);
    const run = await runRecompute(
      incremental.db,
      config,
      { cutoff: '2024-06-30', trigger: 'test' },
      { logger },
    );

    await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(reference.db);
    await insertLedgerEvents(reference.db, referenceConfig, [...cohort.flatMap(patientEvents), correction]);
    const full = await runRecompute(
      reference.db,
      referenceConfig,
      { cutoff: '2024-06-30', trigger: 'test', full: true },
      { logger },
    );
    const got = await patientRows(incremental.db, run.runId);
    expect(got).toEqual(await patientRows(reference.db, full.runId));
    expect(got.filter((r) => r.death_on !== null).length).toBe(cohort.filter((p) => p.diedOn).length - 1);
  });

  it('fails a run whose maintained counts drifted, and a --full run repairs them', async () => {
    await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(incremental.db);
    const cohort = syntheticCohort(10, 4);
    await insertLedgerEvents(incremental.db, config, cohort.flatMap(patientEvents));
    await runRecompute(incremental.db, config, { cutoff: '2024-06-30', trigger: 'test' }, { logger });
    // Corruption: every count lost (as if someone had emptied the table).
    await sql`delete from patient_fact_combinations`.execute(incremental.db);
    const first = cohort[0];
    if (!first) throw new Error('empty cohort');
    await insertLedgerEvents(incremental.db, config, [
      {
        source: 'ehr',
        schemaVersion: 1,
        patientId: first.id,
        eventId: `${first.id}-drift-contact`,
        type: 'followup.contact',
        occurredOn: '2024-06-02',
        payload: { vitalStatus: 'alive' },
      },
    ]);
    await expect(
      runRecompute(incremental.db, config, { cutoff: '2024-06-30', trigger: 'test' }, { logger }),
    ).rejects.toThrow(/recompute --full/);
    const repaired = await runRecompute(
      incremental.db,
      config,
      { cutoff: '2024-06-30', trigger: 'test', full: true },
      { logger },
    );
    expect(await currentCombinations(incremental.db)).toEqual(
      await runCombinations(incremental.db, repaired.runId),
    );
  });

  it('a full rebuild in partitions writes exactly the rows of one statement', async () => {
    await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(incremental.db);
    const random = seededRandom(7);
    const events = syntheticCohort(80, 17).flatMap(patientEvents);
    // Retractions, one of them naming another patient than its target's.
    const targets = events.filter((e) => e.type !== 'patient.registered').filter(() => random() < 0.03);
    const retractions = targets.map((t, i) =>
      retraction(t.source, i === 0 ? 'someone-else' : t.patientId, t.eventId, '2024-01-01'),
    );
    await insertLedgerEvents(incremental.db, config, [...events, ...retractions]);
    const withPartitions = (partitions: number) => ({
      ...config,
      recompute: { ...config.recompute, derivePartitions: partitions },
    });
    const rows: Awaited<ReturnType<typeof patientRows>>[] = [];
    for (const partitions of [1, 2, 5]) {
      const run = await runRecompute(
        incremental.db,
        withPartitions(partitions),
        { cutoff: '2024-06-30', trigger: 'test', full: true },
        { logger },
      );
      const row = await factsOf(run.runId);
      expect(row).toEqual({ facts_mode: 'full', patients_rederived: 80 });
      rows.push(await patientRows(incremental.db, run.runId));
      expect(await currentCombinations(incremental.db)).toEqual(
        await runCombinations(incremental.db, run.runId),
      );
    }
    expect(rows[0]?.length).toBe(80);
    expect(rows[1]).toEqual(rows[0]);
    expect(rows[2]).toEqual(rows[0]);
    const { rows: staged } = await sql<{
      n: number;
    }>`select count(*)::int as n from patient_facts_rebuild`.execute(incremental.db);
    expect(staged).toEqual([{ n: 0 }]);
  });

  it('a full rebuild writes versions only for the patients it changes; every run reads as before', async () => {
    await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(incremental.db);
    await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(reference.db);
    const cohort = syntheticCohort(30, 11);
    const changed = cohort.find((p) => p.diedOn === undefined);
    const gone = cohort.find((p) => p !== changed);
    if (!changed || !gone) throw new Error('cohort too small');
    const events = cohort.flatMap(patientEvents);
    await insertLedgerEvents(incremental.db, config, events);
    const full = { cutoff: '2024-06-30', trigger: 'test', full: true } as const;
    const first = await runRecompute(incremental.db, config, full, { logger });
    const before = await patientRows(incremental.db, first.runId);
    expect(before).toHaveLength(30);

    // One patient's row changes (a contact on the cutoff day); another's every event is retracted,
    // so that patient is no longer derived at all; the other 28 come out as they were.
    const later = [
      followUpContact(changed.id, `${changed.id}-late-contact`, '2024-06-30'),
      ...patientEvents(gone).map((e) => retraction(e.source, gone.id, e.eventId, '2024-06-02')),
    ];
    await insertLedgerEvents(incremental.db, config, later);
    const rebuilt = await runRecompute(incremental.db, config, full, { logger });
    expect(await factsOf(rebuilt.runId)).toEqual({ facts_mode: 'full', patients_rederived: 29 });

    const { rows: versions } = await sql<{ patient_key: string; written: boolean; closed: boolean }>`
      select f.patient_key, f.valid_from = r.run_no as written, f.valid_to is not distinct from r.run_no as closed
      from patient_facts f, runs r where r.id = ${rebuilt.runId}
        and (f.valid_from = r.run_no or f.valid_to = r.run_no)
      order by 1, 2`.execute(incremental.db);
    const changedKey = patientKeyOf(config.pseudonymKey, changed.id);
    const goneKey = patientKeyOf(config.pseudonymKey, gone.id);
    expect(versions).toEqual(
      [
        { patient_key: changedKey, written: false, closed: true },
        { patient_key: changedKey, written: true, closed: false },
        { patient_key: goneKey, written: false, closed: true },
      ].sort((a, b) => (a.patient_key < b.patient_key ? -1 : a.patient_key > b.patient_key ? 1 : 0)),
    );

    // The first run reads as it was published; the rebuilt one as a first derivation of the same
    // ledger in another database; the maintained counts are the rebuilt run's.
    expect(await patientRows(incremental.db, first.runId)).toEqual(before);
    await insertLedgerEvents(reference.db, referenceConfig, [...events, ...later]);
    const fresh = await runRecompute(reference.db, referenceConfig, full, { logger });
    const rebuiltRows = await patientRows(incremental.db, rebuilt.runId);
    expect(rebuiltRows).toHaveLength(29);
    expect(rebuiltRows).toEqual(await patientRows(reference.db, fresh.runId));
    expect(
      rebuiltRows.filter(
        (row) =>
          JSON.stringify(row) !== JSON.stringify(before.find((b) => b.patient_key === row.patient_key)),
      ),
    ).toHaveLength(1);
    expect(await currentCombinations(incremental.db)).toEqual(
      await runCombinations(incremental.db, rebuilt.runId),
    );
  });

  it('a partitioned rebuild that fails leaves the previous versions and counts as they were', async () => {
    await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(incremental.db);
    await insertLedgerEvents(incremental.db, config, syntheticCohort(30, 8).flatMap(patientEvents));
    const first = await runRecompute(
      incremental.db,
      config,
      { cutoff: '2024-06-30', trigger: 'test' },
      { logger },
    );
    const versions = async () =>
      (
        await sql<{
          v: string;
        }>`select count(*)::text || '/' || count(*) filter (where valid_to is null)::text as v
        from patient_facts`.execute(incremental.db)
      ).rows[0]?.v;
    const before = {
      versions: await versions(),
      combinations: await currentCombinations(incremental.db),
    };
    // Every staged row now violates a constraint: each partition fails after deriving.
    await sql`alter table patient_facts_rebuild add constraint zz_fail check (patient_key is null)`.execute(
      incremental.db,
    );
    try {
      await expect(
        runRecompute(
          incremental.db,
          config,
          { cutoff: '2024-06-30', trigger: 'test', full: true },
          { logger },
        ),
      ).rejects.toThrow(/zz_fail/);
    } finally {
      await sql`alter table patient_facts_rebuild drop constraint zz_fail`.execute(incremental.db);
    }
    expect(await versions()).toBe(before.versions);
    expect(await currentCombinations(incremental.db)).toEqual(before.combinations);
    const latest = await incremental.db.selectFrom('latest_run').select('id').executeTakeFirst();
    expect(latest?.id).toBe(first.runId);
    // The next rebuild starts from an empty staging table and publishes.
    const again = await runRecompute(
      incremental.db,
      config,
      { cutoff: '2024-06-30', trigger: 'test', full: true },
      { logger },
    );
    expect(await patientRows(incremental.db, again.runId)).toEqual(
      await patientRows(incremental.db, first.runId),
    );
  });

  it('clears rows a failed refresh left staged before deriving again (incremental and full)', async () => {
    await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(incremental.db);
    await sql`truncate patient_facts_rebuild`.execute(incremental.db);
    const cohort = syntheticCohort(30, 9).flatMap(patientEvents);
    await insertLedgerEvents(incremental.db, config, cohort);
    const partitioned = { ...config, recompute: { ...config.recompute, partitionMinPatients: 1 } };
    const first = await runRecompute(
      incremental.db,
      partitioned,
      { cutoff: '2024-06-30', trigger: 'test' },
      { logger },
    );
    // What a refresh that failed after staging leaves: staged versions of every patient (moved
    // in, they would be second current versions, or stale ones).
    const stageLeftovers = () =>
      sql`insert into patient_facts_rebuild select * from patient_facts where valid_to is null`.execute(
        incremental.db,
      );
    await stageLeftovers();
    // The next night: a follow-up contact for three patients, derived in partitions.
    const touched = cohort.filter((e) => e.type === 'patient.registered').slice(0, 3);
    await insertLedgerEvents(
      incremental.db,
      config,
      touched.map((e, i) => followUpContact(e.patientId, `leftover-night-${i}`, '2024-06-29')),
    );
    const night = await runRecompute(
      incremental.db,
      partitioned,
      { cutoff: '2024-06-30', trigger: 'test' },
      { logger },
    );
    expect(await factsOf(night.runId)).toEqual({ facts_mode: 'incremental', patients_rederived: 3 });
    const staged = async () =>
      (await sql<{ n: number }>`select count(*)::int as n from patient_facts_rebuild`.execute(incremental.db))
        .rows[0]?.n;
    expect(await staged()).toBe(0);
    expect(await currentCombinations(incremental.db)).toEqual(
      await runCombinations(incremental.db, night.runId),
    );
    // The same for a full rebuild: its rows are those of the incremental run.
    await stageLeftovers();
    const full = await runRecompute(
      incremental.db,
      { ...partitioned, recompute: { ...partitioned.recompute, derivePartitions: 2 } },
      { cutoff: '2024-06-30', trigger: 'test', full: true },
      { logger },
    );
    expect(await staged()).toBe(0);
    expect(await patientRows(incremental.db, full.runId)).toEqual(
      await patientRows(incremental.db, night.runId),
    );
    expect(await patientRows(incremental.db, first.runId)).toHaveLength(30);
  });

  it('a changed derivation parameter rebuilds every patient', async () => {
    await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(incremental.db);
    await insertLedgerEvents(incremental.db, config, syntheticCohort(12, 3).flatMap(patientEvents));
    await runRecompute(incremental.db, config, { cutoff: '2024-06-30', trigger: 'test' }, { logger });
    const landmark = { ...config, recompute: { ...config.recompute, landmarkMonths: 3 } };
    const run = await runRecompute(
      incremental.db,
      landmark,
      { cutoff: '2024-06-30', trigger: 'test' },
      { logger },
    );
    const row = await factsOf(run.runId);
    expect(row).toEqual({ facts_mode: 'full', patients_rederived: 12 });
  });

  it('the high-water mark waits for a ledger write in flight (no late-committing batch is skipped)', async () => {
    await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(incremental.db);
    await insertLedgerEvents(incremental.db, config, syntheticCohort(2, 1).flatMap(patientEvents));
    const committedMark = await readLedgerHighWater(incremental.db);

    // A writer holds the ledger-write lock (as every INSERT into events does, by trigger) and
    // has not committed yet: the mark must wait for it instead of reading past it.
    const writer = await holdLedgerWriteLock('shared');
    let settled = false;
    const mark = readLedgerHighWater(incremental.db).then((value) => {
      settled = true;
      return value;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBe(false);
    await writer.release();
    expect(await mark).toBe(committedMark);
  });

  it('every insert into the ledger waits while the mark is being read (statement trigger)', async () => {
    await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(incremental.db);
    const reader = await holdLedgerWriteLock('exclusive');
    let inserted = false;
    const insert = insertLedgerEvents(
      incremental.db,
      config,
      syntheticCohort(1, 99).flatMap(patientEvents),
    ).then(() => {
      inserted = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(inserted).toBe(false);
    await reader.release();
    await insert;
    expect(inserted).toBe(true);
  });
});
