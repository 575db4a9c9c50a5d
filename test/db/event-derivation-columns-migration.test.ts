import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as migration from '../../migrations/2026-11-27T13-00-00Z_event_derivation_columns.js';
import { createLogger } from '../../src/logger.js';
import { runRecompute } from '../../src/recompute/run-recompute.js';
import { EXAMPLE_CUTOFF, publishExampleRun } from '../support/example-run.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

let testDb: TestDatabase;
let firstRun: string;
const config = () => testConfig({ databaseUrl: testDb.url });

beforeAll(async () => {
  testDb = await createTestDatabase();
  firstRun = await publishExampleRun(testDb.db, config());
}, 120_000);

afterAll(async () => {
  await testDb?.close();
});

/** The derivation's former expressions over the payload, beside the stored columns. */
async function storedAgainstPayload() {
  const { rows } = await sql<{ events: number; differing: number }>`
    select count(*)::int as events, count(*) filter (where row(
        fact_on, is_line1_cycle, cycle_number, is_local_line1_radiotherapy, registration_histology,
        registration_disease_setting, registration_diagnosed_on
      ) is distinct from row(
        survflow_fact_on(type, payload, occurred_on),
        type = 'immunotherapy.cycle' and (payload->>'line')::int = 1,
        case when type = 'immunotherapy.cycle' then (payload->>'cycleNumber')::int end,
        type = 'radiotherapy.course' and (payload->>'line')::int = 1 and lower(payload->>'intent') = 'local',
        case when type = 'patient.registered' then payload->>'histology' end,
        case when type = 'patient.registered' then payload->>'diseaseSetting' end,
        case when type = 'patient.registered' then payload->>'diagnosedOn' end
      ))::int as differing
    from events`.execute(testDb.db);
  return rows[0];
}

async function indexes(): Promise<string[]> {
  const { rows } = await sql<{ def: string }>`
    select indexdef as def from pg_indexes where tablename = 'events' order by indexname`.execute(testDb.db);
  return rows.map((r) => r.def);
}

async function patientRows(runId: string) {
  const { rows } = await sql<{ row: string }>`
    select (p.*)::text as row from run_patients p where run_id = ${runId} order by patient_key`.execute(
    testDb.db,
  );
  return rows.map((r) => r.row);
}

describe('migration 2026-11-27T13-00-00Z_event_derivation_columns', () => {
  it('stores what the derivation reads of each event, exactly as its former expressions computed it', async () => {
    const stored = await storedAgainstPayload();
    expect(stored?.events).toBeGreaterThan(1000);
    expect(stored?.differing).toBe(0);
    // A registration's fields are stored on registrations only; line-1 cycles are flagged.
    const { rows } = await sql<{ type: string; registrations: number; line1: number }>`
      select type, count(registration_histology)::int as registrations,
        count(*) filter (where is_line1_cycle)::int as line1
      from events group by type order by type`.execute(testDb.db);
    for (const row of rows) {
      expect(row.registrations > 0).toBe(row.type === 'patient.registered');
      if (row.type !== 'immunotherapy.cycle') expect(row.line1).toBe(0);
    }
    expect(rows.find((r) => r.type === 'immunotherapy.cycle')?.line1).toBeGreaterThan(0);
  });

  it('refuses a value written into a generated column', async () => {
    await expect(
      sql`update events set fact_on = '2000-01-01' where seq = (select min(seq) from events)`.execute(
        testDb.db,
      ),
    ).rejects.toThrow(/can only be updated to DEFAULT/);
  });

  it('goes down and up again; a run derived on either schema has the same patient rows', async () => {
    const published = await patientRows(firstRun);
    expect(published.length).toBeGreaterThanOrEqual(73);
    expect(await indexes()).toEqual(
      expect.arrayContaining([expect.stringMatching(/events_patient_derivation_idx .*INCLUDE/)]),
    );

    await migration.down(testDb.db);
    const { rows: columns } = await sql<{ n: number }>`
      select count(*)::int as n from information_schema.columns
      where table_name = 'events' and column_name in ('fact_on', 'is_line1_cycle', 'registration_histology')`.execute(
      testDb.db,
    );
    expect(columns).toEqual([{ n: 0 }]);
    expect((await indexes()).join('\n')).toMatch(/events_patient_key_idx .*\(patient_key, occurred_on\)/);
    expect((await indexes()).join('\n')).toMatch(/events_fact_on_idx .*survflow_fact_on/);

    await migration.up(testDb.db);
    expect((await storedAgainstPayload())?.differing).toBe(0);
    const again = await runRecompute(
      testDb.db,
      config(),
      { cutoff: EXAMPLE_CUTOFF, trigger: 'test', full: true },
      { logger: createLogger('silent') },
    );
    expect(await patientRows(again.runId)).toEqual(
      published.map((row) => row.replace(firstRun, again.runId)),
    );
  });
});
