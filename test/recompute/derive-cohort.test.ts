import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import type { SurvEvent } from '../../src/contract/events.js';
import type { RunPatientRow } from '../../src/db/database.js';
import { buildAttrition, countDerived } from '../../src/recompute/attrition.js';
import { FLAGS, patientKeyRange, REASONS } from '../../src/recompute/derive-cohort.js';
import { analysisParameters, DAYS_PER_MONTH } from '../../src/recompute/parameters.js';
import { refreshPatientFacts } from '../../src/recompute/patient-facts.js';
import { insertRun } from '../../src/recompute/run-store.js';
import {
  addDays,
  insertLedgerEvents,
  type PatientSpec,
  patientEvents,
  patientKeyOf,
  retraction,
} from '../support/ledger-fixture.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

let testDb: TestDatabase;
let config: Config;

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url });
});
afterAll(async () => {
  await testDb?.close();
});
beforeEach(async () => {
  await sql`truncate events, runs, patient_facts, patient_facts_state cascade`.execute(testDb.db);
});

async function derive(cutoff: string, overrides: Partial<ReturnType<typeof analysisParameters>> = {}) {
  const parameters = { ...analysisParameters(config, cutoff), ...overrides };
  const run = await insertRun(testDb.db, parameters, { trigger: 'test' }, 'test');
  const runId = run.id;
  // The derivation rules themselves: every patient derived (incremental.test.ts checks that
  // incremental refreshes give the same rows).
  await refreshPatientFacts(testDb.db, run, parameters, { full: true });
  const counts = await countDerived(testDb.db, runId);
  const rows = await testDb.db.selectFrom('run_patients').selectAll().where('run_id', '=', runId).execute();
  const byId = (id: string): RunPatientRow => {
    const row = rows.find((r) => r.patient_key === patientKeyOf(config.pseudonymKey, id));
    if (!row) throw new Error(`no run_patients row for ${id}`);
    return row;
  };
  return { runId, counts, rows, byId, parameters };
}

const months = (from: string, to: string) =>
  (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000 / DAYS_PER_MONTH;

async function load(...specs: (PatientSpec | SurvEvent[])[]) {
  const events = specs.flatMap((s) => (Array.isArray(s) ? s : patientEvents(s)));
  await insertLedgerEvents(testDb.db, config, events);
}

describe('cohort derivation', () => {
  it('derives time zero, death, censoring, radiotherapy and cycle groups', async () => {
    await load(
      { id: 'A', startOn: '2020-01-01', cycles: 8, diedOn: '2021-01-01' },
      {
        id: 'B',
        startOn: '2020-03-01',
        cycles: 3,
        radiotherapyOn: '2020-04-15',
        contacts: ['2021-06-01', '2022-06-01'],
      },
      {
        id: 'C',
        startOn: '2020-02-01',
        cycles: 14,
        radiotherapyOn: '2020-05-01',
        radiotherapyIntent: 'palliative',
      },
    );
    const { byId, counts } = await derive('2022-12-31');
    const a = byId('A');
    expect(a).toMatchObject({ analysable: true, event: 1, time_zero: '2020-01-01', death_on: '2021-01-01' });
    expect(a.time_months).toBeCloseTo(366 / 30.4375, 12);
    expect(a).toMatchObject({ cycles: 8, cycle_group: '7-12', radiotherapy: false, flags: [] });
    const b = byId('B');
    expect(b).toMatchObject({
      event: 0,
      exit_on: '2022-06-01',
      radiotherapy: true,
      cycles: 3,
      cycle_group: '1-6',
    });
    expect(b.time_months).toBeCloseTo(months('2020-03-01', '2022-06-01'), 12);
    const c = byId('C');
    // Palliative radiotherapy is not local radiotherapy; censored at the last cycle.
    expect(c).toMatchObject({ radiotherapy: false, cycles: 14, cycle_group: '>12', event: 0 });
    expect(c.exit_on).toBe(addDays('2020-02-01', 13 * 21));
    expect(counts).toMatchObject({ patientsInLedger: 3, registered: 3, analysed: 3 });
  });

  it('uses only facts on or before a past cutoff', async () => {
    await load({
      id: 'A',
      startOn: '2020-01-01',
      cycles: 10,
      contacts: ['2020-05-01'],
      diedOn: '2021-01-01',
    });
    const { byId } = await derive('2020-04-01');
    // Cycles 1..5 fall on or before 2020-04-01 (day 84 is cycle 5); the death is after the cutoff.
    expect(byId('A')).toMatchObject({
      event: 0,
      cycles: 5,
      death_on: null,
      exit_on: addDays('2020-01-01', 84),
    });
    const late = await derive('2019-12-31');
    expect(late.rows).toHaveLength(0);
  });

  it('ignores retracted events, from the same source only', async () => {
    await load(
      { id: 'A', startOn: '2020-01-01', cycles: 4, contacts: ['2020-08-01'], diedOn: '2021-01-01' },
      // A retraction dated after the cutoff still applies: it corrects the record.
      [retraction('ehr', 'A', 'A-death', '2023-01-01')],
      { id: 'B', startOn: '2020-01-01', cycles: 4, diedOn: '2021-01-01' },
      [retraction('other-system', 'B', 'B-death', '2021-02-01')],
    );
    const { byId } = await derive('2022-06-30');
    expect(byId('A')).toMatchObject({ event: 0, death_on: null, exit_on: '2020-08-01' });
    expect(byId('B')).toMatchObject({ event: 1, death_on: '2021-01-01' });
  });

  it('excludes by reason and counts the attrition', async () => {
    await load(
      { id: 'ok1', startOn: '2020-01-01', cycles: 4, diedOn: '2020-12-01' },
      { id: 'ok2', startOn: '2020-01-01', cycles: 20, contacts: ['2021-12-01'] },
      { id: 'adeno', histology: 'adenocarcinoma', startOn: '2020-01-01', cycles: 3 },
      { id: 'local', diseaseSetting: 'locally advanced', startOn: '2020-01-01', cycles: 3 },
      { id: 'untreated', startOn: '2020-01-01', cycles: 0, contacts: ['2020-06-01'] },
      { id: 'unregistered', registeredOn: null, startOn: '2020-01-01', cycles: 2 },
      { id: 'registeredLate', registeredOn: '2023-01-01', startOn: '2020-01-01', cycles: 2 },
      {
        id: 'deadBefore',
        startOn: '2020-03-01',
        cycles: 2,
        registeredOn: '2020-01-01',
        diedOn: '2020-02-01',
      },
    );
    const { byId, runId } = await derive('2022-06-30');
    expect(byId('adeno')).toMatchObject({ analysable: false, exclusion_reason: REASONS.notEscc });
    expect(byId('local')).toMatchObject({ exclusion_reason: REASONS.notRecurrentMetastatic });
    expect(byId('untreated')).toMatchObject({ exclusion_reason: REASONS.noLine1Immunotherapy });
    expect(byId('unregistered')).toMatchObject({
      registered: false,
      exclusion_reason: REASONS.noRegistration,
    });
    expect(byId('registeredLate')).toMatchObject({ exclusion_reason: REASONS.noRegistration });
    expect(byId('deadBefore')).toMatchObject({ exclusion_reason: REASONS.deathBeforeTimeZero });
    expect(byId('deadBefore').flags).toContain(FLAGS.deathBeforeTimeZero);

    const attrition = await buildAttrition(testDb.db, runId, 9);
    expect(attrition).toEqual([
      { step: 'patients with events', patients: 8 },
      { step: 'registered', patients: 6, excluded: 2, reasons: { [REASONS.noRegistration]: 2 } },
      {
        step: 'ESCC recurrent/metastatic',
        patients: 4,
        excluded: 2,
        reasons: { [REASONS.notEscc]: 1, [REASONS.notRecurrentMetastatic]: 1 },
      },
      {
        step: 'line-1 immunotherapy by cutoff',
        patients: 3,
        excluded: 1,
        reasons: { [REASONS.noLine1Immunotherapy]: 1 },
      },
      { step: 'analysable', patients: 2, excluded: 1, reasons: { [REASONS.deathBeforeTimeZero]: 1 } },
      // ok1 dies at 11 months (> 9) so both are in the landmark cohort.
      { step: 'alive and in follow-up at 9 months', patients: 2, excluded: 0, reasons: {} },
    ]);
  });

  it('flags data-quality problems and applies the documented rule for each', async () => {
    await load(
      // Two death dates: the earliest is used.
      { id: 'twoDeaths', startOn: '2020-01-01', cycles: 3, diedOn: '2020-10-01' },
      [
        {
          source: 'followup',
          schemaVersion: 1,
          patientId: 'twoDeaths',
          eventId: 'd2',
          type: 'death.recorded',
          occurredOn: '2020-09-15',
          payload: { diedOn: '2020-09-15' },
        },
      ],
      // Cycles 5..8 are after the death: not counted, flagged; the death stands.
      { id: 'afterDeath', startOn: '2020-01-01', cycles: 8, diedOn: '2020-03-20', contacts: ['2020-06-01'] },
      // Cycle numbers 1, 2, 4: three cycles, flagged.
      { id: 'gaps', startOn: '2020-01-01', cycles: 0, cycleNumbers: [1, 2, 4] },
      // Died before the diagnosis date: kept (time is from time zero), flagged.
      {
        id: 'diagnosisAfterDeath',
        startOn: '2020-01-01',
        cycles: 2,
        diagnosedOn: '2020-06-01',
        diedOn: '2020-05-01',
      },
      // Cycle 2 recorded twice on different dates: counted once, flagged.
      [
        ...patientEvents({ id: 'repeat', startOn: '2020-01-01', cycles: 2 }),
        {
          source: 'ehr',
          schemaVersion: 1,
          patientId: 'repeat',
          eventId: 'repeat-c2-again',
          type: 'immunotherapy.cycle',
          occurredOn: '2020-02-01',
          payload: { line: 1, cycleNumber: 2, agent: 'camrelizumab' },
        },
        {
          source: 'ehr',
          schemaVersion: 1,
          patientId: 'repeat',
          eventId: 'repeat-reg-2',
          type: 'patient.registered',
          occurredOn: '2020-03-01',
          payload: { histology: 'ESCC', diseaseSetting: 'recurrent', diagnosedOn: '2019-11-01' },
        },
      ],
    );
    const { byId } = await derive('2022-06-30');
    const twoDeaths = byId('twoDeaths');
    expect(twoDeaths).toMatchObject({ death_on: '2020-09-15', event: 1 });
    expect(twoDeaths.flags).toEqual([FLAGS.conflictingDeathDates]);
    const afterDeath = byId('afterDeath');
    expect(afterDeath).toMatchObject({ death_on: '2020-03-20', event: 1, cycles: 4 });
    expect(afterDeath.flags).toEqual([FLAGS.treatmentAfterDeath, FLAGS.contactAfterDeath]);
    expect(byId('gaps')).toMatchObject({ cycles: 3, flags: [FLAGS.cycleNumberGaps] });
    const dx = byId('diagnosisAfterDeath');
    expect(dx).toMatchObject({ analysable: true, event: 1 });
    expect(dx.flags).toEqual([FLAGS.deathBeforeDiagnosis, FLAGS.treatmentBeforeDiagnosis]);
    const repeat = byId('repeat');
    expect(repeat).toMatchObject({ cycles: 2, disease_setting: 'recurrent' });
    expect(repeat.flags).toEqual([FLAGS.conflictingRegistrations, FLAGS.repeatedCycleNumber]);
  });

  it('counts each cycle number once, by its earliest record, and flags only repeats on another day before the death', async () => {
    const cycle = (
      patientId: string,
      eventId: string,
      occurredOn: string,
      cycleNumber: number,
      line = 1,
    ) => ({
      source: 'ehr',
      schemaVersion: 1 as const,
      patientId,
      eventId,
      type: 'immunotherapy.cycle' as const,
      occurredOn,
      payload: { line, cycleNumber, agent: 'camrelizumab' },
    });
    const registration = (patientId: string, source: string, eventId: string, diseaseSetting: string) => ({
      source,
      schemaVersion: 1 as const,
      patientId,
      eventId,
      type: 'patient.registered' as const,
      occurredOn: '2020-01-01',
      payload: { histology: 'ESCC', diseaseSetting, diagnosedOn: '2019-12-01' },
    });
    await load(
      // Cycle 2 recorded twice on its day: one cycle, no repeat.
      [
        ...patientEvents({ id: 'sameDay', startOn: '2020-01-01', cycles: 2 }),
        cycle('sameDay', 'sameDay-c2-copy', '2020-01-22', 2),
      ],
      // Cycle 2 again after the death: not counted, not a repeat, a treatment after death.
      [
        ...patientEvents({ id: 'repeatAfterDeath', startOn: '2020-01-01', cycles: 3, diedOn: '2020-03-01' }),
        cycle('repeatAfterDeath', 'repeatAfterDeath-c2-late', '2020-04-01', 2),
      ],
      // A line-2 cycle with a line-1 number: neither counted nor a repeat.
      [
        ...patientEvents({ id: 'line2', startOn: '2020-01-01', cycles: 2 }),
        cycle('line2', 'line2-l2c2', '2020-03-01', 2, 2),
      ],
      // Cycle 1 repeated and cycle 3 first given after the landmark: three cycles, two by L.
      [
        ...patientEvents({ id: 'lateRepeat', startOn: '2020-01-01', cycles: 2, contacts: ['2021-06-01'] }),
        cycle('lateRepeat', 'lateRepeat-c1-again', '2020-12-01', 1),
        cycle('lateRepeat', 'lateRepeat-c3', '2020-12-01', 3),
      ],
      // Two registrations on the same day: the greater source is the record.
      [
        ...patientEvents({
          id: 'sameDayRegistrations',
          startOn: '2020-01-01',
          cycles: 1,
          registeredOn: null,
        }),
        registration('sameDayRegistrations', 'ehr', 'r-ehr', 'metastatic'),
        registration('sameDayRegistrations', 'registry', 'r-registry', 'recurrent'),
      ],
    );
    const { byId } = await derive('2022-06-30');
    expect(byId('sameDay')).toMatchObject({ cycles: 2, flags: [] });
    expect(byId('repeatAfterDeath')).toMatchObject({ cycles: 3, flags: [FLAGS.treatmentAfterDeath] });
    expect(byId('line2')).toMatchObject({ cycles: 2, flags: [] });
    expect(byId('lateRepeat')).toMatchObject({
      cycles: 3,
      landmark_eligible: true,
      landmark_cycles: 2,
      flags: [FLAGS.repeatedCycleNumber],
    });
    expect(byId('sameDayRegistrations')).toMatchObject({
      registered: true,
      disease_setting: 'recurrent',
      flags: [FLAGS.conflictingRegistrations],
    });
  });

  it('classifies the landmark cohort by what was received by L, time from L', async () => {
    await load(
      // 20 cycles over 399 days; by 9 months (273.9 days) cycles 1..14 (day 273) are received.
      {
        id: 'long',
        startOn: '2020-01-01',
        cycles: 20,
        radiotherapyOn: '2020-11-01',
        contacts: ['2021-12-01'],
      },
      { id: 'early', startOn: '2020-01-01', cycles: 4, diedOn: '2020-07-01' },
      { id: 'shortFollowUp', startOn: '2020-01-01', cycles: 4, contacts: ['2020-05-01'] },
    );
    const { byId } = await derive('2022-06-30');
    const long = byId('long');
    expect(long).toMatchObject({
      landmark_eligible: true,
      cycles: 20,
      landmark_cycles: 14,
      landmark_cycle_group: '>12',
      radiotherapy: true,
      landmark_radiotherapy: false,
    });
    expect(long.landmark_time_months).toBeCloseTo(months('2020-01-01', '2021-12-01') - 9, 12);
    expect(byId('early')).toMatchObject({
      landmark_eligible: false,
      landmark_exclusion_reason: REASONS.landmarkDied,
    });
    expect(byId('shortFollowUp')).toMatchObject({ landmark_exclusion_reason: REASONS.landmarkCensored });
  });

  it('gives the same rows whatever the arrival order', async () => {
    const events = [
      { id: 'A', startOn: '2020-01-01', cycles: 8, diedOn: '2021-01-01' },
      { id: 'B', startOn: '2020-03-01', cycles: 13, radiotherapyOn: '2020-04-15', contacts: ['2021-06-01'] },
      { id: 'C', startOn: '2020-02-01', cycles: 2, cycleNumbers: [1, 3] },
    ].flatMap(patientEvents);
    events.push(retraction('ehr', 'B', 'B-c13', '2021-07-01'));
    const strip = (rows: RunPatientRow[]) =>
      rows
        .map(({ run_id: _runId, ...rest }) => rest)
        .sort((x, y) => x.patient_key.localeCompare(y.patient_key));
    await insertLedgerEvents(testDb.db, config, events);
    const inOrder = strip((await derive('2022-06-30')).rows);
    expect(inOrder.find((r) => r.cycles === 12)).toBeDefined();
    for (const seed of [1, 2, 3]) {
      await sql`truncate events, patient_facts, patient_facts_state`.execute(testDb.db);
      await insertLedgerEvents(testDb.db, config, shuffle(events, seed));
      expect(strip((await derive('2022-06-30')).rows)).toEqual(inOrder);
    }
  });
});

function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('patientKeyRange', () => {
  it('puts every key in exactly one of n shares, whatever n and whatever the key', async () => {
    const hex = Array.from({ length: 200 }, (_, i) => patientKeyOf(config.pseudonymKey, `P${i}`));
    const edges = [
      '',
      '0',
      '0000',
      '00000000',
      '3fff',
      '4000',
      '7fff',
      '7fffffff',
      '8000',
      '80',
      'ffff',
      'fffff',
    ];
    const odd = ['ABCD', 'zz', 'é', ' leading space', '~'];
    const keys = [...hex, ...edges, ...odd];
    const values = sql.join(keys.map((key) => sql`(${key}::text)`));
    for (const partitions of [1, 2, 3, 5, 7, 64]) {
      const shareOf = new Map<string, number[]>();
      for (let partition = 0; partition < partitions; partition++) {
        const { rows } = await sql<{ patient_key: string }>`
          select patient_key from (values ${values}) as e (patient_key)
          where true ${patientKeyRange(partition, partitions)}`.execute(testDb.db);
        for (const { patient_key } of rows)
          shareOf.set(patient_key, [...(shareOf.get(patient_key) ?? []), partition]);
      }
      expect(
        keys.filter((key) => shareOf.get(key)?.length !== 1),
        `${partitions} shares`,
      ).toEqual([]);
      if (partitions === 2) {
        // HMAC keys spread evenly: neither half is much larger than the other.
        const first = hex.filter((key) => shareOf.get(key)?.[0] === 0).length;
        expect(first).toBeGreaterThan(60);
        expect(first).toBeLessThan(140);
      }
    }
  });
});
