import { type Kysely, type RawBuilder, type Selectable, sql, type Transaction } from 'kysely';
import type { Database, PatientFactCombinationsTable } from '../db/database.js';
import { FactsDriftError } from '../errors.js';

/**
 * A group of a run's patients who share every column the run's outputs use: exclusion step and
 * reason, landmark status, whether flagged, and the analysis columns of the groupings, with the
 * number of such patients.
 */
export type PatientCombination = Selectable<PatientFactCombinationsTable>;

/**
 * The combination columns, in the order of `COMBINATION_OF_ROW` (its `group by 1, ..., 14`):
 * together, a combination's identity (`patients` is its count).
 */
export const COMBINATION_COLUMNS = [
  'excluded_at',
  'reason',
  'landmark_reason',
  'registered',
  'analysable',
  'landmark_eligible',
  'flagged',
  'time_months',
  'event',
  'radiotherapy',
  'cycle_group',
  'landmark_time_months',
  'landmark_cycle_group',
  'landmark_radiotherapy',
] as const satisfies readonly (keyof PatientCombination)[];

/**
 * A combination as an object of one fixed shape, whatever made it (a row read by `pg`, or a
 * count change applied to a worker's held copy): the code that runs over tens of thousands of
 * combinations in every run then meets a single hidden class. With rows of both shapes mixed,
 * V8 discarded its optimized code for them ("wrong map") and compiled it again in later runs.
 */
export function combinationOf(row: PatientCombination, patients = row.patients): PatientCombination {
  return {
    excluded_at: row.excluded_at,
    reason: row.reason,
    landmark_reason: row.landmark_reason,
    registered: row.registered,
    analysable: row.analysable,
    landmark_eligible: row.landmark_eligible,
    flagged: row.flagged,
    time_months: row.time_months,
    event: row.event,
    radiotherapy: row.radiotherapy,
    cycle_group: row.cycle_group,
    landmark_time_months: row.landmark_time_months,
    landmark_cycle_group: row.landmark_cycle_group,
    landmark_radiotherapy: row.landmark_radiotherapy,
    patients,
  };
}

/** The same columns by name (`patient_fact_combinations`). */
const COMBINATION_NAMES = sql.join(COMBINATION_COLUMNS.map((column) => sql.ref(column)));

/** The combination columns computed from a patient row (`run_patients` / `patient_facts`). */
const COMBINATION_OF_ROW = sql`excluded_at, coalesce(exclusion_reason, '') as reason,
      case when analysable and not landmark_eligible then landmark_exclusion_reason end as landmark_reason,
      registered, analysable, landmark_eligible, cardinality(flags) > 0 as flagged,
      time_months, event, radiotherapy, cycle_group,
      landmark_time_months, landmark_cycle_group, landmark_radiotherapy`;

/**
 * Recounts `patient_fact_combinations` from every current version (after a full rebuild).
 */
export async function recountCombinations(trx: Transaction<Database>): Promise<void> {
  await sql`delete from patient_fact_combinations`.execute(trx);
  await sql`
    insert into patient_fact_combinations (${COMBINATION_NAMES}, patients)
    select ${COMBINATION_OF_ROW}, count(*)::int
    from patient_facts where valid_to is null
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14`.execute(trx);
}

/**
 * Starts collecting an incremental refresh's combination changes (a temporary table, dropped at
 * commit): each version the refresh closes counts -1 for its combination, each version it
 * writes +1, taken from the rows the statements change (`RETURNING`), so the changes cost no
 * second read of the touched patients' versions.
 */
export async function beginCombinationChanges(trx: Transaction<Database>): Promise<void> {
  await sql`create temporary table combination_changes (like patient_fact_combinations) on commit drop`.execute(
    trx,
  );
}

/**
 * `statement` (an UPDATE or INSERT on `patient_facts`, without RETURNING) made to record the
 * combinations of the version rows it leaves behind, counted `sign` times each, in
 * `combination_changes`. Closing versions returns the closed rows (the combinations they leave),
 * inserting returns the new rows (the combinations they join). `preceding`: WITH items that
 * `statement` reads (a data-modifying statement may appear only at the top level of a WITH).
 */
export function recordingCombinationChanges(
  statement: RawBuilder<unknown>,
  sign: 1 | -1,
  preceding?: RawBuilder<unknown>,
): RawBuilder<unknown> {
  return sql`
    with ${preceding === undefined ? sql`` : sql`${preceding},`}
    changed as (${statement} returning ${COMBINATION_OF_ROW})
    insert into combination_changes (${COMBINATION_NAMES}, patients)
    select ${COMBINATION_NAMES}, ${sign}::int * count(*)::int from changed
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14`;
}

/**
 * The net count change of every combination an incremental refresh changes: the versions it
 * closed (-1 each) and the rows it derived (+1 each), recorded in `combination_changes`, plus,
 * with `staged`, the rows still waiting in `patient_facts_rebuild` to be moved in (+1 each).
 * Combinations whose changes cancel out (re-derived patients whose rows came out as they were)
 * are left out. Read before the changes are written, so that a run can start computing from
 * them while its refresh writes them (see `runRecompute`).
 */
export async function netCombinationChanges(
  trx: Transaction<Database>,
  { staged }: { staged: boolean },
): Promise<PatientCombination[]> {
  const { rows } = await sql<PatientCombination>`
    select ${COMBINATION_NAMES}, sum(patients)::int as patients from (
      select ${COMBINATION_NAMES}, patients from combination_changes
      ${staged ? sql`union all select ${COMBINATION_OF_ROW}, 1 from patient_facts_rebuild` : sql``}
    ) c
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14
    having sum(patients) <> 0`.execute(trx);
  return rows;
}

/**
 * Applies the collected changes to `patient_fact_combinations` (once every change is in
 * `combination_changes`). Combinations left with no patient are deleted. A count would go
 * negative only if the table had drifted from the versions: that fails the run (a `--full` run
 * recounts it).
 */
export async function applyCombinationChanges(trx: Transaction<Database>): Promise<void> {
  await sql`
    insert into patient_fact_combinations as c (${COMBINATION_NAMES}, patients)
    select ${COMBINATION_NAMES}, sum(patients)::int from combination_changes
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14
    having sum(patients) <> 0
    on conflict on constraint patient_fact_combinations_key
    do update set patients = c.patients + excluded.patients`.execute(trx);
  const { rows } = await sql<{ patients: number }>`
    delete from patient_fact_combinations where patients <= 0 returning patients`.execute(trx);
  if (rows.some((row) => row.patients < 0)) {
    throw new FactsDriftError(
      'patient_fact_combinations no longer matches patient_facts (a count went negative); run `survflow recompute --full`',
    );
  }
}

/**
 * The current patient combinations (what the run holding the recompute lock sees): read from
 * the maintained table, tens of thousands of rows whatever the cohort size.
 *
 * In no particular order. The statistics engine gives the same results, bit for bit, for rows
 * in any order (counted rows are summed per distinct time in integers; property-tested in
 * test/stats/properties.test.ts and counted-rows.test.ts), the counts and attrition are integer
 * sums with their reasons sorted, and the inputs fingerprint does not read them (it names
 * them: see `inputsFingerprint`). Sorting ~17,000 combinations on 14 keys here cost ~25 ms of
 * every run.
 */
export async function loadCurrentCombinations(db: Kysely<Database>): Promise<PatientCombination[]> {
  const { rows } = await sql<PatientCombination>`
    select ${COMBINATION_NAMES}, patients from patient_fact_combinations`.execute(db);
  return rows;
}

/**
 * A run's patients as distinct combinations, from ONE grouped scan of its rows: the counts, the
 * attrition table and the statistics' input are all read from the same result (so they always
 * agree), and with whole-day times there are tens of thousands of combinations whatever the
 * cohort size, so the worker never holds a row per patient.
 *
 * Grouped by hashing (enough work_mem for the hash table, scoped to the transaction), in no
 * particular order: nothing computed from combinations depends on their order (see
 * `loadCurrentCombinations`).
 */
export async function loadPatientCombinations(
  db: Kysely<Database>,
  runId: string,
): Promise<PatientCombination[]> {
  const rows = await db.transaction().execute(async (trx) => {
    await sql`set local work_mem = '64MB'`.execute(trx);
    const { rows } = await sql<PatientCombination>`
    select ${COMBINATION_OF_ROW}, count(*)::int as patients
    from run_patients
    where run_id = ${runId}
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14`.execute(trx);
    return rows;
  });
  return rows;
}
