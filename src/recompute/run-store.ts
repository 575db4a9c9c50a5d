import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../db/database.js';
import type { AttritionStep } from './attrition.js';
import type { DerivationCounts } from './derive-cohort.js';
import type { AnalysisParameters } from './parameters.js';
import type { GroupingResults } from './summarize.js';
import { commitWithoutWaitingForFlush } from './unflushed-commit.js';

/** What asked for a run (the recompute job's payload, or a direct call). */
export type RunRequest = {
  trigger: string;
  jobId?: string | null;
  requestedAt?: string | null;
};

/**
 * Marks every `running` run as abandoned. Only called while holding the recompute advisory lock:
 * nobody else can be computing then, so a `running` row belongs to a process that died.
 */
export async function abandonStaleRuns(db: Kysely<Database>): Promise<number> {
  const result = await db
    .updateTable('runs')
    .set({
      status: 'abandoned',
      finished_at: sql`now()`,
      stage: null,
      error: 'the process computing this run ended before publishing it',
    })
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function insertRun(
  db: Kysely<Database>,
  parameters: AnalysisParameters,
  request: RunRequest,
  worker: string,
): Promise<{ id: string; runNo: string }> {
  const row = await db
    .insertInto('runs')
    .values({
      status: 'running',
      cutoff: parameters.cutoff,
      trigger: request.trigger,
      job_id: request.jobId ?? null,
      requested_at: request.requestedAt ?? null,
      worker,
      parameters: JSON.stringify(parameters),
      landmark_months: parameters.landmarkMonths,
      cycle_group_bounds: parameters.cycleGroupBounds,
      suppression_k: parameters.suppressionK,
      time_unit: parameters.timeUnit,
      days_per_month: parameters.daysPerMonth,
      conf_type: parameters.confType,
      conf_level: parameters.confLevel,
      stage: 'starting',
    })
    .returning(['id', 'run_no'])
    .executeTakeFirstOrThrow();
  return { id: row.id, runNo: row.run_no };
}

export async function setStage(db: Kysely<Database>, runId: string, stage: string): Promise<void> {
  await db.updateTable('runs').set({ stage }).where('id', '=', runId).execute();
}

export async function recordCounts(
  db: Kysely<Database>,
  runId: string,
  counts: DerivationCounts,
): Promise<void> {
  await db
    .updateTable('runs')
    .set({
      patients_in_ledger: counts.patientsInLedger,
      patients_registered: counts.registered,
      patients_analysed: counts.analysed,
      patients_landmark: counts.landmark,
      patients_flagged: counts.flagged,
    })
    .where('id', '=', runId)
    .execute();
}

/** What the run's results are computed from (see reuse-results.ts). */
export async function recordInputsFingerprint(
  db: Kysely<Database>,
  runId: string,
  fingerprint: string,
): Promise<void> {
  await db.updateTable('runs').set({ inputs_fingerprint: fingerprint }).where('id', '=', runId).execute();
}

/**
 * Writes a run's summaries and tests (invisible to readers until the run is published) in one
 * transaction, as `produce` hands them over grouping by grouping. Each grouping's rows are sent
 * at once and not waited for, so PostgreSQL stores one grouping while the worker computes the
 * next: on two cores the two overlap instead of adding up. A failed write, or a failure of
 * `produce`, rolls every row back.
 */
export async function storeResults(
  db: Kysely<Database>,
  runId: string,
  produce: (write: (results: GroupingResults) => void) => Promise<void>,
): Promise<{ summaries: number; tests: number }> {
  const stored = { summaries: 0, tests: 0 };
  await db.transaction().execute(async (trx) => {
    await commitWithoutWaitingForFlush(trx);
    const writes: Promise<unknown>[] = [];
    const write = (results: GroupingResults) => {
      const written = insertGroupingResults(trx, runId, results);
      // Awaited below; until then a failure must not count as an unhandled rejection.
      written.catch(() => {});
      writes.push(written);
      stored.summaries += results.summaries.length;
      stored.tests += results.test ? 1 : 0;
    };
    try {
      await produce(write);
    } finally {
      await Promise.allSettled(writes);
    }
    await Promise.all(writes);
  });
  return stored;
}

async function insertGroupingResults(
  trx: Transaction<Database>,
  runId: string,
  { summaries, test }: GroupingResults,
): Promise<void> {
  if (summaries.length > 0) {
    await trx
      .insertInto('run_summaries')
      .values(summaries.map((row) => ({ ...row, run_id: runId })))
      .execute();
  }
  if (test)
    await trx
      .insertInto('run_tests')
      .values({ ...test, run_id: runId })
      .execute();
}

/** Notified (payload: the run id) when a run is published; API processes LISTEN to drop their cached latest run. */
export const RUN_PUBLISHED_CHANNEL = 'survflow_run_published';

/**
 * The publication: ONE transaction flips the run from running to published. Everything the run
 * shows was written before, so readers of the views see either the previous run or all of this
 * one. Throws when the run is no longer `running` (it was marked abandoned meanwhile). The NOTIFY
 * is delivered at commit, and only if the transaction commits.
 */
export async function publishRun(db: Kysely<Database>, runId: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const result = await trx
      .updateTable('runs')
      .set({ status: 'published', published_at: sql`now()`, finished_at: sql`now()`, stage: 'published' })
      .where('id', '=', runId)
      .where('status', '=', 'running')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) {
      throw new Error(`run ${runId} is no longer running; not published`);
    }
    await sql`select pg_notify(${RUN_PUBLISHED_CHANNEL}, ${runId})`.execute(trx);
  });
}

export async function failRun(db: Kysely<Database>, runId: string, error: string): Promise<void> {
  await db
    .updateTable('runs')
    .set({ status: 'failed', finished_at: sql`now()`, error: error.slice(0, 4000) })
    .where('id', '=', runId)
    .where('status', '=', 'running')
    .execute();
}

export type { AttritionStep };
