import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as migration from '../../migrations/2026-11-27T09-00-00Z_combinations_key_order.js';
import { publishExampleRun } from '../support/example-run.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase();
  await publishExampleRun(testDb.db, testConfig({ databaseUrl: testDb.url }));
}, 120_000);

afterAll(async () => {
  await testDb?.close();
});

async function combinations(): Promise<string[]> {
  const { rows } = await sql<{ row: string }>`
    select c::text as row from patient_fact_combinations c order by 1`.execute(testDb.db);
  return rows.map((r) => r.row);
}

async function keyAndFillfactor(): Promise<{ key: string; options: string[] | null }> {
  const { rows } = await sql<{ key: string; options: string[] | null }>`
    select pg_get_constraintdef(k.oid) as key, t.reloptions as options
    from pg_constraint k join pg_class t on t.oid = k.conrelid
    where k.conname = 'patient_fact_combinations_key'`.execute(testDb.db);
  return rows[0]!;
}

describe('migration 2026-11-27T09-00-00Z_combinations_key_order', () => {
  it('reorders the unique key and sets fillfactor 70, both ways, keeping every combination', async () => {
    const before = await combinations();
    expect(before.length).toBeGreaterThan(10);
    expect(await keyAndFillfactor()).toEqual({
      key: expect.stringMatching(
        /^UNIQUE NULLS NOT DISTINCT \(time_months, landmark_time_months, cycle_group,/,
      ),
      options: ['fillfactor=70'],
    });

    await migration.down(testDb.db);
    expect(await combinations()).toEqual(before);
    expect(await keyAndFillfactor()).toEqual({
      key: expect.stringMatching(/^UNIQUE NULLS NOT DISTINCT \(excluded_at, reason, landmark_reason,/),
      options: null,
    });

    await migration.up(testDb.db);
    expect(await combinations()).toEqual(before);
    expect((await keyAndFillfactor()).options).toEqual(['fillfactor=70']);
  });

  it('still refuses a second row for the same combination (same columns, new order)', async () => {
    const { rows } = await sql<{ patients: number }>`
      select patients from patient_fact_combinations limit 1`.execute(testDb.db);
    expect(rows.length).toBe(1);
    await expect(
      sql`insert into patient_fact_combinations
        select * from patient_fact_combinations limit 1`.execute(testDb.db),
    ).rejects.toThrow(/patient_fact_combinations_key/);
  });
});
