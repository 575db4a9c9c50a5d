import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type {
  Database,
  RunAttritionTable,
  RunSummariesTable,
  RunsTable,
  RunTestsTable,
} from '../db/database.js';
import { CURVE_COLUMN_NAMES } from '../db/summary-curve-columns.js';
import type { AnalysisParameters } from './parameters.js';
import { commitWithoutWaitingForFlush } from './unflushed-commit.js';

/**
 * Version of what a run computes from its patient combinations and parameters: the counts, the
 * attrition table, the statistics engine's summaries and tests, and how they are stored. Bump it
 * whenever that code changes what it writes; runs with otherwise identical inputs then compute
 * their results again instead of copying results written by the older code.
 */
export const RESULTS_VERSION = 1;

/**
 * A fingerprint of everything a run's results are computed from: the current patient
 * combinations, named by the run whose facts refresh last changed them (run numbers are never
 * reused, so equal numbers mean identical combinations; see `FactsRefresh.combinationsRunNo`),
 * the run's analysis parameters (the cutoff among them) and RESULTS_VERSION.
 *
 * Named rather than hashed: hashing the text of ~17,000 combination rows took ~100 ms of every
 * run at 100k patients. The name is at least as strict: combinations that changed and changed
 * back get a new name, so that run computes its results instead of copying them.
 */
export function inputsFingerprint(parameters: AnalysisParameters, combinationsRunNo: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ resultsVersion: RESULTS_VERSION, parameters, combinationsRunNo }))
    .digest('hex');
}

/** The latest published run, when its results were computed from inputs with `fingerprint`. */
export async function latestRunWithInputs(
  db: Kysely<Database>,
  fingerprint: string,
): Promise<string | undefined> {
  const latest = await db.selectFrom('latest_run').select(['id', 'inputs_fingerprint']).executeTakeFirst();
  return latest?.inputs_fingerprint === fingerprint ? latest.id : undefined;
}

// Every column but run_id (and, for runs, the counts the copy takes over).
const COUNT_COLUMNS = [
  'patients_in_ledger',
  'patients_registered',
  'patients_analysed',
  'patients_landmark',
  'patients_flagged',
] as const satisfies readonly (keyof RunsTable)[];
const ATTRITION_COLUMNS = [
  'position',
  'step',
  'patients',
  'excluded',
  'reasons',
] as const satisfies readonly (keyof RunAttritionTable)[];
const SUMMARY_COLUMNS = [
  'grouping',
  'group_label',
  'position',
  'n',
  'events',
  'censored',
  'median',
  'median_lower',
  'median_upper',
  'surv_12',
  'surv_24',
  'surv_36',
  'rmst',
  'rmst_tau',
  'follow_up_median',
  'summary',
  ...CURVE_COLUMN_NAMES,
] as const satisfies readonly (keyof RunSummariesTable)[];
const TEST_COLUMNS = [
  'grouping',
  'position',
  'logrank_chisq',
  'logrank_df',
  'logrank_p',
  'cox_reference',
  'cox_group',
  'cox_hr',
  'cox_lower',
  'cox_upper',
  'cox_p',
  'test',
] as const satisfies readonly (keyof RunTestsTable)[];

const columns = (names: readonly string[]) => sql.join(names.map((name) => sql.ref(name)));

/**
 * Copies run `from`'s counts, attrition, summaries and tests to run `runId`, in one transaction,
 * inside PostgreSQL (no document leaves the server), and records where they came from. The
 * copied rows are what computing them again would write: the inputs are identical.
 */
export async function copyResults(
  db: Kysely<Database>,
  runId: string,
  from: string,
): Promise<{ summaries: number; tests: number }> {
  return db.transaction().execute(async (trx) => {
    await commitWithoutWaitingForFlush(trx);
    await sql`
      update runs r set ${sql.join(COUNT_COLUMNS.map((c) => sql`${sql.ref(c)} = f.${sql.ref(c)}`))},
        results_reused_from = f.id
      from runs f
      where r.id = ${runId} and f.id = ${from}`.execute(trx);
    await sql`
      insert into run_attrition (run_id, ${columns(ATTRITION_COLUMNS)})
      select ${runId}::text, ${columns(ATTRITION_COLUMNS)} from run_attrition where run_id = ${from}`.execute(
      trx,
    );
    const summaries = await sql`
      insert into run_summaries (run_id, ${columns(SUMMARY_COLUMNS)})
      select ${runId}::text, ${columns(SUMMARY_COLUMNS)} from run_summaries where run_id = ${from}`.execute(
      trx,
    );
    const tests = await sql`
      insert into run_tests (run_id, ${columns(TEST_COLUMNS)})
      select ${runId}::text, ${columns(TEST_COLUMNS)} from run_tests where run_id = ${from}`.execute(trx);
    return { summaries: Number(summaries.numAffectedRows ?? 0), tests: Number(tests.numAffectedRows ?? 0) };
  });
}
