import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { moveStagedStatement } from '../../src/recompute/patient-facts.js';
import { runRecompute } from '../../src/recompute/run-recompute.js';
import { insertLedgerEvents, patientEvents, syntheticCohort } from '../support/ledger-fixture.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

/**
 * A first run after an ANALYZE (or VACUUM) of the new, empty database: the planner believes
 * `patient_facts` empty while the full rebuild's move fills it. An anti join straight against it
 * was planned as a nested loop that scanned `patient_facts` once per staged row, each scan
 * reading every row inserted so far (79 s for 100,000 patients, quadratic in the patients).
 */
let database: TestDatabase;
let config: Config;
const STAGED_ROWS = 2_000;

beforeAll(async () => {
  database = await createTestDatabase();
  config = testConfig({ databaseUrl: database.url });
});
afterAll(async () => {
  await database?.close();
});

type PlanNode = {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
};

function scansOf(node: PlanNode, relation: string): PlanNode[] {
  const own = node['Relation Name'] === relation && node['Node Type'] !== 'ModifyTable' ? [node] : [];
  return [...own, ...(node.Plans ?? []).flatMap((child) => scansOf(child, relation))];
}

describe('moving a first full rebuild into an analyzed, empty patient_facts', () => {
  it('reads patient_facts once, not once per staged row', async () => {
    await sql`analyze patient_facts`.execute(database.db);
    const scans = await database.db.connection().execute(async (connection) => {
      await sql`begin`.execute(connection);
      try {
        await sql`insert into patient_facts_rebuild (patient_key, registered, analysable, landmark_eligible, valid_from)
          select md5(i::text), true, true, true, 1 from generate_series(1, ${STAGED_ROWS}::int) i`.execute(
          connection,
        );
        const { rows } = await sql<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>`
          explain (analyze, format json) ${moveStagedStatement()}`.execute(connection);
        const moved = await sql<{ n: number }>`
          select count(*)::int as n from patient_facts where valid_to is null`.execute(connection);
        expect(moved.rows[0]?.n).toBe(STAGED_ROWS);
        return scansOf(rows[0]!['QUERY PLAN'][0].Plan, 'patient_facts');
      } finally {
        await sql`rollback`.execute(connection);
      }
    });
    expect(scans.length).toBeGreaterThan(0);
    for (const scan of scans) expect(scan['Actual Loops']).toBe(1);
  });

  it('a first run in that state writes a version for every patient', async () => {
    const cohort = syntheticCohort(120, 31);
    await insertLedgerEvents(database.db, config, cohort.flatMap(patientEvents));
    await sql`analyze patient_facts`.execute(database.db);
    const run = await runRecompute(
      database.db,
      config,
      { cutoff: '2026-01-01', trigger: 'test' },
      { logger: createLogger('silent') },
    );
    const { rows } = await sql<{ versions: number; patients: number; mode: string }>`
      select (select count(*)::int from patient_facts where valid_to is null) as versions,
        (select count(distinct patient_key)::int from events) as patients,
        (select facts_mode from runs where id = ${run.runId}) as mode`.execute(database.db);
    expect(rows[0]).toEqual({ versions: cohort.length, patients: cohort.length, mode: 'full' });
  });
});
