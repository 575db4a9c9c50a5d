import { hostname } from 'node:os';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { type Kysely, sql } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { buildAttrition, storeAttrition } from './attrition.js';
import { deriveCohort } from './derive-cohort.js';
import type { AnalysedPatient } from './groupings.js';
import { type AnalysisParameters, analysisParameters, dateInTimeZone } from './parameters.js';
import {
  abandonStaleRuns,
  failRun,
  insertRun,
  publishRun,
  type RunRequest,
  recordCounts,
  setStage,
  storeResults,
} from './run-store.js';
import { summarizeGroupings, survivalRowsByGrouping } from './summarize.js';

/**
 * The advisory lock every recompute holds for its whole run (session level, on a connection of
 * its own): whatever the queue does, two processes never compute at once, and a lock of a
 * process that dies is released with its connection.
 */
export const RECOMPUTE_LOCK_KEY = 0x5f_52_45_43; // "_REC"

export type RecomputeProgress = {
  runId: string;
  stage: string;
  patientsDone?: number;
  patientsTotal?: number;
};

export type RecomputeOptions = {
  logger: Logger;
  onProgress?: (progress: RecomputeProgress) => void;
  /** Test seam: runs after the summaries are written and before publication. */
  beforePublish?: (runId: string) => Promise<void>;
  /** Rows read per page when loading the analytic data set. */
  pageSize?: number;
};

export type RecomputeRequest = RunRequest & { cutoff?: string | undefined };

export type RecomputeOutcome = { runId: string; cutoff: string; parameters: AnalysisParameters };

/** The cutoff of a request: the requested date, else the configured one, else the run date. */
export function effectiveCutoff(config: Config, requested: string | undefined, now = new Date()): string {
  return requested ?? config.recompute.cutoff ?? dateInTimeZone(now, config.recompute.timeZone);
}

/**
 * One recompute run, start to publication: derive the cohort as of the cutoff (SQL), count the
 * attrition, load the per-patient rows, compute every grouping's summaries, write them, publish
 * atomically. On any error the run is marked failed and the previous published run stays latest.
 */
export async function runRecompute(
  db: Kysely<Database>,
  config: Config,
  request: RecomputeRequest,
  options: RecomputeOptions,
): Promise<RecomputeOutcome> {
  return db.connection().execute(async (lockConnection) => {
    await sql`select pg_advisory_lock(${RECOMPUTE_LOCK_KEY}::bigint)`.execute(lockConnection);
    try {
      return await runLocked(db, config, request, options);
    } finally {
      await sql`select pg_advisory_unlock(${RECOMPUTE_LOCK_KEY}::bigint)`.execute(lockConnection);
    }
  });
}

async function runLocked(
  db: Kysely<Database>,
  config: Config,
  request: RecomputeRequest,
  options: RecomputeOptions,
): Promise<RecomputeOutcome> {
  const abandoned = await abandonStaleRuns(db);
  if (abandoned > 0) options.logger.warn({ abandoned }, 'marked runs of ended processes as abandoned');

  const parameters = analysisParameters(config, effectiveCutoff(config, request.cutoff));
  const runId = await insertRun(db, parameters, request, `${hostname()}:${process.pid}`);
  const log = options.logger.child({ runId, cutoff: parameters.cutoff });
  const stage = async (name: string, extra: Omit<RecomputeProgress, 'runId' | 'stage'> = {}) => {
    log.info({ stage: name, ...extra }, 'recompute stage');
    options.onProgress?.({ runId, stage: name, ...extra });
    await setStage(db, runId, name);
  };
  try {
    await stage('deriving cohort');
    const counts = await deriveCohort(db, runId, parameters);
    await recordCounts(db, runId, counts);
    log.info(counts, 'cohort derived');

    await stage('counting attrition');
    await storeAttrition(db, runId, await buildAttrition(db, runId, parameters.landmarkMonths));

    const patients: AnalysedPatient[] = [];
    await stage('loading patients', { patientsDone: 0, patientsTotal: counts.analysed });
    for await (const page of analysedPatientPages(db, runId, options.pageSize ?? 20_000)) {
      patients.push(...page);
      log.info({ patientsDone: patients.length, patientsTotal: counts.analysed }, 'patients loaded');
      await setStage(db, runId, `loading patients (${patients.length} of ${counts.analysed})`);
      options.onProgress?.({
        runId,
        stage: 'loading patients',
        patientsDone: patients.length,
        patientsTotal: counts.analysed,
      });
    }

    await stage('summarizing', { patientsDone: patients.length, patientsTotal: counts.analysed });
    const rows = survivalRowsByGrouping(patients, parameters);
    const results = summarizeGroupings(rows, parameters, (grouping) =>
      log.info({ stage: 'summarizing', grouping }, 'summarizing grouping'),
    );
    await yieldToEventLoop();

    await stage('writing summaries');
    await storeResults(db, runId, results);
    await options.beforePublish?.(runId);

    await stage('publishing');
    await publishRun(db, runId);
    log.info({ summaries: results.summaries.length, tests: results.tests.length }, 'run published');
    options.onProgress?.({ runId, stage: 'published' });
    return { runId, cutoff: parameters.cutoff, parameters };
  } catch (error) {
    log.error({ err: error }, 'recompute failed; the previous published run stays latest');
    await failRun(db, runId, errorMessage(error)).catch((failError: unknown) =>
      log.error({ err: failError }, 'could not mark the run failed (it will be marked abandoned later)'),
    );
    throw error;
  }
}

/** The analysable patients of a run, one row each, in pages (keyset on patient_key). */
async function* analysedPatientPages(
  db: Kysely<Database>,
  runId: string,
  pageSize: number,
): AsyncGenerator<(AnalysedPatient & { patient_key: string })[]> {
  let after: string | null = null;
  for (;;) {
    let query = db
      .selectFrom('run_patients')
      .select([
        'patient_key',
        'time_months',
        'event',
        'radiotherapy',
        'cycle_group',
        'landmark_eligible',
        'landmark_time_months',
        'landmark_cycle_group',
        'landmark_radiotherapy',
      ])
      .where('run_id', '=', runId)
      .where('analysable', '=', true)
      .orderBy('patient_key')
      .limit(pageSize);
    if (after !== null) query = query.where('patient_key', '>', after);
    const page = await query.execute();
    if (page.length === 0) return;
    yield page;
    after = page[page.length - 1]?.patient_key ?? null;
    if (page.length < pageSize) return;
  }
}
