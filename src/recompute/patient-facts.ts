import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../db/database.js';
import {
  DERIVED_COLUMNS,
  type DerivationScope,
  derivationStatement,
  prepareDerivation,
} from './derive-cohort.js';
import { readLedgerHighWater } from './ledger-high-water.js';
import type { AnalysisParameters } from './parameters.js';
import {
  applyCombinationChanges,
  beginCombinationChanges,
  netCombinationChanges,
  type PatientCombination,
  recordingCombinationChanges,
  recountCombinations,
} from './patient-combinations.js';
import { commitWithoutWaitingForFlush } from './unflushed-commit.js';

/**
 * Version of the derivation's SQL semantics. Bump it whenever derive-cohort.ts changes what a
 * patient's row contains: the next run then rebuilds every patient instead of mixing rows
 * derived by two versions of the rules.
 */
export const DERIVATION_VERSION = 1;

export type FactsMode = 'full' | 'incremental';

export type FactsRefresh = {
  mode: FactsMode;
  /** Why a full rebuild was chosen (absent for incremental refreshes). */
  reason?: string;
  /** Patients whose rows were derived again (all patients in a full rebuild). */
  rederived: number;
  /**
   * New versions written: every re-derived patient's in an incremental refresh; in a full
   * rebuild only those whose rows changed (see `closeVersionsRebuiltDifferently`).
   */
  versionsWritten: number;
  /** The ledger high-water mark the versions now reflect. */
  throughSeq: string;
  /** Milliseconds per step (for the run's log: where a slow refresh spends its time). */
  ms: Record<string, number>;
  /**
   * Partitions the derivation ran in (an incremental refresh's 1: one statement in the refresh's
   * transaction; a full rebuild always stages, 1 partition or more).
   */
  partitions: number;
  /**
   * The run whose refresh last changed the patient combinations: this one when it changed any
   * (always after a full rebuild), else the earlier run's. Equal values, identical combinations.
   */
  combinationsRunNo: string;
  /**
   * An incremental refresh's changes to the combinations named `from` (the combinations before
   * it): every combination whose count changed, with the change (`patients`: +n or -n; a count
   * that reaches 0 is gone). Absent after a full rebuild.
   */
  combinationChanges?: { from: string; deltas: PatientCombination[] };
};

/**
 * An incremental refresh's combination changes (as in `FactsRefresh`), announced before the
 * refresh writes them and commits: they take the combinations named `from` to those named `to`
 * if, and only if, the refresh commits.
 */
export type UncommittedCombinationChanges = { from: string; to: string; deltas: PatientCombination[] };

/** Runs `step` and records its duration under `name`. */
async function timed<T>(ms: Record<string, number>, name: string, step: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await step();
  } finally {
    ms[name] = Math.round(performance.now() - started);
  }
}

/** What, besides the cutoff, changes a patient's derived row: a change rebuilds every patient. */
export function derivationKey(parameters: AnalysisParameters): string {
  return JSON.stringify({
    version: DERIVATION_VERSION,
    landmarkMonths: parameters.landmarkMonths,
    cycleGroupBounds: parameters.cycleGroupBounds,
    daysPerMonth: parameters.daysPerMonth,
  });
}

export type RefreshOptions = {
  /** Derive every patient again, whatever changed. */
  full?: boolean;
  /**
   * A full rebuild, and an incremental refresh of at least `partitionMinPatients` touched
   * patients, derive in this many disjoint partitions on as many connections at once (1: one
   * statement in the refresh's transaction).
   */
  derivePartitions?: number;
  partitionMinPatients?: number;
  /**
   * Told an incremental refresh's combination changes (when there are any) as soon as they are
   * known, while the refresh still writes them and commits, so the caller can start computing
   * from them meanwhile (it must not throw, and must not trust them until the refresh returns).
   */
  onCombinationChanges?: (changes: UncommittedCombinationChanges) => void;
};

/**
 * Brings `patient_facts` to the run's cutoff and the current ledger, as versions valid from run
 * `runNo`, in ONE transaction (a failure leaves the previous versions and mark intact):
 *
 * - full rebuild (first run, `full` asked, or changed derivation parameters/rules): every
 *   patient is derived again, as `derivePartitions` partitions (by ranges of the patient key; 1:
 *   the whole ledger) on their own connections into `patient_facts_rebuild`; the refresh's
 *   transaction then closes the current versions that the staged rows change and moves those
 *   rows in (a patient whose row came out identical keeps its version). Each partition's
 *   snapshot is taken after the high-water mark was read, and every patient is derived from one
 *   snapshot, so the rows are the same whatever the number of partitions;
 * - incremental: only the touched patients are derived again: those with events received since
 *   the high-water mark of the last refresh, those whose events were retracted since, and, when
 *   the cutoff moved, those with a fact dated between the old and the new cutoff (index
 *   `events_fact_on_idx`). Every other patient's row is, by construction, what a full
 *   derivation would give: it depends only on the patient's own live events dated on or before
 *   the cutoff, none of which changed. Many touched patients are derived in partitions the same
 *   way (shares of the touched list, sent by value), while the transaction closes their versions.
 *
 * Runs are serialized by the recompute lock, so versions are written by one run at a time.
 */
export async function refreshPatientFacts(
  db: Kysely<Database>,
  run: { id: string; runNo: string },
  parameters: AnalysisParameters,
  options: RefreshOptions = {},
): Promise<FactsRefresh> {
  const ms: Record<string, number> = {};
  const throughSeq = await timed(ms, 'highWaterMark', () => readLedgerHighWater(db));
  const key = derivationKey(parameters);
  // Under the recompute lock nobody else writes the state, so it can be read before the
  // transaction (which may then overlap with the partitions a full rebuild stages).
  const state = await db.selectFrom('patient_facts_state').selectAll().executeTakeFirst();
  const reason = options.full
    ? 'a full rebuild was asked for'
    : !state
      ? 'no patient facts yet'
      : state.derivation_key !== key
        ? 'the derivation parameters or rules changed'
        : undefined;
  const configuredPartitions = Math.max(1, Math.floor(options.derivePartitions ?? 1));
  // A full rebuild stages its partitions now; an incremental refresh decides once it knows how
  // many patients it touches.
  const partitions = reason === undefined ? 1 : configuredPartitions;
  const staged =
    reason !== undefined
      ? timed(ms, 'derive', () =>
          stageDerivation(
            db,
            run.runNo,
            parameters,
            Array.from({ length: partitions }, (_, partition) => ({ partition, partitions })),
          ),
        )
      : undefined;
  // Awaited inside the transaction (or in `finally` when the transaction fails before that).
  staged?.catch(() => {});
  try {
    return await db.transaction().execute(async (trx) => {
      // The one derivation this transaction may run itself is an incremental refresh's of the
      // touched patients (a full rebuild's run on their own connections).
      await prepareDerivation(trx, 'touched patients');
      await commitWithoutWaitingForFlush(trx);
      let rederived: number;
      let versionsWritten: number;
      let partitionsUsed = partitions;
      let changedCombinations: PatientCombination[] | undefined;
      if (staged) {
        rederived = await staged;
        await timed(ms, 'closeVersions', () => closeVersionsRebuiltDifferently(trx, run.runNo));
        versionsWritten = await timed(ms, 'moveStaged', () => moveStagedThatDiffer(trx));
        await timed(ms, 'countCombinations', () => recountCombinations(trx));
      } else if (state) {
        // JIT compilation costs ~0.7 s per statement and pays back only on long scans, which an
        // incremental refresh never does.
        await sql`set local jit = off`.execute(trx);
        ({
          rederived,
          partitions: partitionsUsed,
          changedCombinations,
        } = await refreshTouched(db, trx, run.runNo, parameters, ms, {
          fromSeq: state.derived_through_seq,
          throughSeq,
          fromCutoff: state.cutoff,
          partitions: configuredPartitions,
          partitionMinPatients: options.partitionMinPatients ?? 500,
          announce: (deltas) => {
            if (deltas.length > 0)
              options.onCombinationChanges?.({ from: state.combinations_run_no, to: run.runNo, deltas });
          },
        }));
        versionsWritten = rederived;
      } else {
        throw new Error('unreachable: no facts state and no full rebuild');
      }
      const combinationsRunNo =
        state && changedCombinations?.length === 0 ? state.combinations_run_no : run.runNo;

      await trx
        .insertInto('patient_facts_state')
        .values({
          id: true,
          derived_through_seq: throughSeq,
          cutoff: parameters.cutoff,
          derivation_key: key,
          run_no: run.runNo,
          combinations_run_no: combinationsRunNo,
        })
        .onConflict((oc) =>
          oc.column('id').doUpdateSet({
            derived_through_seq: throughSeq,
            cutoff: parameters.cutoff,
            derivation_key: key,
            run_no: run.runNo,
            combinations_run_no: combinationsRunNo,
            updated_at: sql`now()`,
          }),
        )
        .execute();
      const mode: FactsMode = reason === undefined ? 'incremental' : 'full';
      await trx
        .updateTable('runs')
        .set({ facts_mode: mode, facts_derived: true, patients_rederived: rederived })
        .where('id', '=', run.id)
        .execute();
      return {
        mode,
        ...(reason === undefined ? {} : { reason }),
        rederived,
        versionsWritten,
        throughSeq,
        ms,
        partitions: partitionsUsed,
        combinationsRunNo,
        ...(state && changedCombinations
          ? { combinationChanges: { from: state.combinations_run_no, deltas: changedCombinations } }
          : {}),
      };
    });
  } finally {
    // Never return (and release the recompute lock) while a partition is still writing.
    if (staged) await Promise.allSettled([staged]);
  }
}

const DERIVED_COLUMN_LIST = sql.join(DERIVED_COLUMNS.map((column) => sql.ref(column)));

/**
 * Derives the patients of each scope into `patient_facts_rebuild`, all scopes at once, each on
 * its own connection and committed there (the staging table is only read by the refresh that
 * fills it, under the recompute lock). Waits for every scope before reporting the first failure.
 */
async function stageDerivation(
  db: Kysely<Database>,
  runNo: string,
  parameters: AnalysisParameters,
  scopes: readonly DerivationScope[],
  options: { jit?: boolean } = {},
): Promise<number> {
  // Left over by a refresh that failed after staging (an unlogged table is also emptied by a
  // crash). Truncated only then: a TRUNCATE makes new files for the table and its indexes,
  // ~6-9 ms that a nightly refresh would pay every night to empty an empty table.
  const { rows: leftOver } = await sql<{ any: boolean }>`
    select exists (select from patient_facts_rebuild) as any`.execute(db);
  if (leftOver[0]?.any) await sql`truncate patient_facts_rebuild`.execute(db);
  const outcomes = await Promise.allSettled(
    scopes.map((scope) =>
      db.transaction().execute(async (trx) => {
        await prepareDerivation(trx, scope);
        if (options.jit === false) await sql`set local jit = off`.execute(trx);
        const staged = await derivationStatement(runNo, parameters, scope, 'patient_facts_rebuild').execute(
          trx,
        );
        return Number(staged.numAffectedRows ?? 0);
      }),
    ),
  );
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  return outcomes.reduce((sum, outcome) => sum + (outcome.status === 'fulfilled' ? outcome.value : 0), 0);
}

/** The derived columns that make up a patient's row (all but its version and its key). */
const ROW_COLUMNS = DERIVED_COLUMNS.filter((column) => column !== 'valid_from' && column !== 'patient_key');
const rowOf = (alias: string) => sql.join(ROW_COLUMNS.map((column) => sql.ref(`${alias}.${column}`)));

/**
 * A full rebuild closes only the current versions that its staged rows change: a patient whose
 * row came out different, or who is no longer derived at all (every event retracted). A
 * patient whose row came out identical keeps the version it has, which reads the same in this
 * run as a new one would. Closing (and later moving in) every patient's row cost ~1.5 s of a
 * 100k-patient rebuild and ~17 s at 1M, mostly spent writing rows identical to the ones they
 * replaced when the rebuild was asked for with nothing changed (`--full`).
 */
async function closeVersionsRebuiltDifferently(trx: Transaction<Database>, runNo: string): Promise<void> {
  await sql`
    update patient_facts f set valid_to = ${runNo}::bigint
    where f.valid_to is null
      and not exists (
        select 1 from patient_facts_rebuild s
        where s.patient_key = f.patient_key and row(${rowOf('s')}) is not distinct from row(${rowOf('f')}))`.execute(
    trx,
  );
}

/**
 * The INSERT that moves a full rebuild's staged rows into `patient_facts`, except those of the
 * patients that still have a current version (after `closeVersionsRebuiltDifferently`, only
 * those whose staged row is identical to it).
 *
 * Those patients are read once, into a materialized CTE, before the first row is inserted. An
 * anti join straight against `patient_facts` read the very table the statement fills: when
 * the planner believes the table empty (a first run after an ANALYZE or VACUUM of the new
 * database, as an operator runs after a backfill) it chose a nested loop that scans
 * `patient_facts` once per staged row, and each scan reads every row inserted so far (invisible
 * to the statement, but on its pages): 79 s for the first run of 100,000 patients here, and
 * quadratic in the patients. The CTE is a fixed set, so any plan the planner picks for it costs
 * what the planner expects. (Exported for the test of its plan.)
 */
export function moveStagedStatement() {
  return sql`
    with kept as materialized (select f.patient_key from patient_facts f where f.valid_to is null)
    insert into patient_facts (${DERIVED_COLUMN_LIST})
    select ${DERIVED_COLUMN_LIST} from patient_facts_rebuild s
    where not exists (select 1 from kept where kept.patient_key = s.patient_key)`;
}

/**
 * Moves a full rebuild's staged rows into `patient_facts` (in the refresh's transaction, so they
 * appear with the closing of the versions they replace), except those identical to a patient's
 * current version, and empties the staging table. Returns the rows written.
 */
async function moveStagedThatDiffer(trx: Transaction<Database>): Promise<number> {
  const moved = await moveStagedStatement().execute(trx);
  await sql`truncate patient_facts_rebuild`.execute(trx);
  return Number(moved.numAffectedRows ?? 0);
}

/**
 * Moves an incremental refresh's staged rows into `patient_facts`, recording them as
 * combination changes, and empties the staging table by deleting them in the same statement.
 * A TRUNCATE makes new files for the table and its indexes, ~9 ms of every night for a few
 * thousand rows; the deleted rows' space is reclaimed by vacuum, and every full rebuild
 * truncates.
 */
async function moveStagedRecordingChanges(trx: Transaction<Database>): Promise<void> {
  await recordingCombinationChanges(
    sql`insert into patient_facts (${DERIVED_COLUMN_LIST}) select ${DERIVED_COLUMN_LIST} from staged`,
    1,
    sql`staged as (delete from patient_facts_rebuild returning ${DERIVED_COLUMN_LIST})`,
  ).execute(trx);
}

async function refreshTouched(
  db: Kysely<Database>,
  trx: Transaction<Database>,
  runNo: string,
  parameters: AnalysisParameters,
  ms: Record<string, number>,
  since: {
    fromSeq: string;
    throughSeq: string;
    fromCutoff: string;
    partitions: number;
    partitionMinPatients: number;
    /** Told the net combination changes once they are known, before they are written. */
    announce: (deltas: PatientCombination[]) => void;
  },
): Promise<{ rederived: number; partitions: number; changedCombinations: PatientCombination[] }> {
  await sql`create temporary table touched_patients (patient_key text primary key) on commit drop`.execute(
    trx,
  );
  const [low, high] = [since.fromCutoff, parameters.cutoff].sort();
  const findTouched = sql`
    insert into touched_patients (patient_key)
    select e.patient_key from events e
    where e.seq > ${since.fromSeq}::bigint and e.seq <= ${since.throughSeq}::bigint
    union
    -- A retraction withdraws its target whatever patient the retraction itself names.
    select t.patient_key from events r
    join events t on t.source = r.source and t.event_id = r.payload->>'targetEventId'
    where r.type = 'event.retracted' and r.seq > ${since.fromSeq}::bigint and r.seq <= ${since.throughSeq}::bigint
    ${
      low === high
        ? sql``
        : sql`union
    -- A moved cutoff brings facts in (or drops them) without any new event.
    select e.patient_key from events e
    where e.fact_on > ${low}::date and e.fact_on <= ${high}::date`
    }`;
  await timed(ms, 'findTouched', () => findTouched.execute(trx));
  // A temporary table has no statistics until analyzed: without them the planner guesses its
  // size and may scan the whole ledger instead of looking the touched patients up by index.
  await timed(ms, 'analyzeTouched', () => sql`analyze touched_patients`.execute(trx));
  const { rows: counted } = await sql<{ n: number }>`
    select count(*)::int as n from touched_patients`.execute(trx);
  const touchedCount = counted[0]?.n ?? 0;
  await beginCombinationChanges(trx);
  const closeVersions = () =>
    timed(ms, 'closeVersions', () =>
      recordingCombinationChanges(
        // `= any(array(...))`: one index probe per touched patient (patient_facts_current_idx),
        // where `in (select ...)` may be planned as a scan of every version.
        sql`update patient_facts set valid_to = ${runNo}::bigint
          where valid_to is null and patient_key = any(array(select patient_key from touched_patients))`,
        -1,
      ).execute(trx),
    );

  if (since.partitions > 1 && touchedCount >= since.partitionMinPatients) {
    // Each partition gets its share of the keys by value (the temporary table is this session's
    // alone); together the shares are exactly the patients whose versions this transaction closes.
    const { rows: touched } = await sql<{ patient_key: string }>`
      select patient_key from touched_patients`.execute(trx);
    const shares = Array.from({ length: since.partitions }, (_, share) =>
      touched.filter((_row, i) => i % since.partitions === share).map((row) => row.patient_key),
    );
    const staged = timed(ms, 'derive', () =>
      stageDerivation(
        db,
        runNo,
        parameters,
        shares.map((patientKeys) => ({ patientKeys })),
        { jit: false },
      ),
    );
    staged.catch(() => {});
    try {
      await closeVersions();
      await staged;
    } finally {
      await Promise.allSettled([staged]);
    }
    // The staged rows are counted before they are moved in: the changes are known one statement
    // earlier, and the caller computes from them while the rest of the refresh is written.
    const changedCombinations = await timed(ms, 'netChanges', () =>
      netCombinationChanges(trx, { staged: true }),
    );
    since.announce(changedCombinations);
    await timed(ms, 'moveStaged', () => moveStagedRecordingChanges(trx));
    await timed(ms, 'countCombinations', () => applyCombinationChanges(trx));
    return { rederived: touchedCount, partitions: since.partitions, changedCombinations };
  }

  await closeVersions();
  await timed(ms, 'derive', () =>
    recordingCombinationChanges(derivationStatement(runNo, parameters, 'touched patients'), 1).execute(trx),
  );
  const changedCombinations = await timed(ms, 'netChanges', () =>
    netCombinationChanges(trx, { staged: false }),
  );
  since.announce(changedCombinations);
  await timed(ms, 'countCombinations', () => applyCombinationChanges(trx));
  return { rederived: touchedCount, partitions: 1, changedCombinations };
}
