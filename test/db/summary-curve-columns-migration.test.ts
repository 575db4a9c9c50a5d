import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as migration from '../../migrations/2026-11-27T04-30-00Z_summary_curve_columns.js';
import type { Config } from '../../src/config.js';
import { CURVE_COLUMN_NAMES, curveFromColumns } from '../../src/db/summary-curve-columns.js';
import type { CurvePoint } from '../../src/stats/types.js';
import { publishExampleRun } from '../support/example-run.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

let testDb: TestDatabase;
let config: Config;
let runId: string;

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url });
  runId = await publishExampleRun(testDb.db, config);
}, 120_000);

afterAll(async () => {
  await testDb?.close();
});

/** Every summary's curve, from the curve_* columns, as points (by grouping/group). */
async function curvesFromColumns(): Promise<Map<string, CurvePoint[] | null>> {
  const rows = await testDb.db
    .selectFrom('run_summaries')
    .select(['grouping', 'group_label', ...CURVE_COLUMN_NAMES])
    .where('run_id', '=', runId)
    .execute();
  return new Map(rows.map((r) => [`${r.grouping}/${r.group_label}`, curveFromColumns(r)]));
}

describe('migration 2026-11-27T04-30-00Z_summary_curve_columns', () => {
  it('moves the step curves between the documents and the columns, both ways, without changing a number', async () => {
    const stored = await curvesFromColumns();
    expect(stored.size).toBeGreaterThan(10);
    for (const [name, curve] of stored) expect(curve?.length, name).toBeGreaterThan(0);

    // Down: the curves go back into the documents (as runs before the migration stored them).
    await migration.down(testDb.db);
    const { rows: documents } = await sql<{
      grouping: string;
      group_label: string;
      summary: { curve: CurvePoint[] };
    }>`
      select grouping, group_label, summary from run_summaries where run_id = ${runId}`.execute(testDb.db);
    for (const d of documents)
      expect(d.summary.curve, `${d.grouping}/${d.group_label}`).toEqual(
        stored.get(`${d.grouping}/${d.group_label}`),
      );
    const { rows: viewColumns } = await sql<{ column_name: string }>`
      select column_name from information_schema.columns where table_name = 'published_summaries' and column_name like 'curve%'`.execute(
      testDb.db,
    );
    expect(viewColumns).toEqual([]);

    // Up again: the columns are filled from the documents, which lose their curve.
    await migration.up(testDb.db);
    expect(await curvesFromColumns()).toEqual(stored);
    const { rows: left } = await sql<{ n: number }>`
      select count(*)::int as n from run_summaries where summary->'curve' is not null`.execute(testDb.db);
    expect(left[0]?.n).toBe(0);

    // The views show the curve of a published group, and none for a suppressed one (k raised
    // so that the small groups of the example are suppressed).
    await sql`update runs set suppression_k = 20 where id = ${runId}`.execute(testDb.db);
    const { rows: published } = await sql<{ suppressed: boolean; points: number | null }>`
      select suppressed, cardinality(curve_time) as points from latest_summaries`.execute(testDb.db);
    expect(published.some((p) => p.suppressed)).toBe(true);
    for (const p of published) expect(p.points === null).toBe(p.suppressed);
  });
});
