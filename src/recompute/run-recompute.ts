import { hostname } from 'node:os';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { type Kysely, sql } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { storeAttrition } from './attrition.js';
import { CombinationsCache } from './combinations-cache.js';
import { type AnalysisParameters, analysisParameters, dateInTimeZone } from './parameters.js';
import {
  type FactsRefresh,
  refreshPatientFacts,
  type UncommittedCombinationChanges,
} from './patient-facts.js';
import { copyResults, inputsFingerprint, latestRunWithInputs } from './reuse-results.js';
import {
  abandonStaleRuns,
  failRun,
  insertRun,
  publishRun,
  type RunRequest,
  recordCounts,
  recordInputsFingerprint,
  setStage,
  storeResults,
} from './run-store.js';
import { type StartedResults, startResults } from './start-results.js';
import type { SummaryThreads } from './summary-threads.js';

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
  /**
   * The worker process's copy of the patient combinations, kept between its runs (absent: every
   * run reads them from the database).
   */
  combinations?: CombinationsCache;
  /**
   * The worker process's statistics threads (absent: the groupings are computed on the calling
   * thread, one after another). The results are the same either way.
   */
  summaryThreads?: SummaryThreads;
};

export type RecomputeRequest = RunRequest & {
  cutoff?: string | undefined;
  /** Derive every patient again instead of only the touched ones (see patient-facts.ts). */
  full?: boolean | undefined;
};

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
  const run = await insertRun(db, parameters, request, `${hostname()}:${process.pid}`);
  const runId = run.id;
  const log = options.logger.child({ runId, cutoff: parameters.cutoff });
  const stage = async (name: string, extra: Omit<RecomputeProgress, 'runId' | 'stage'> = {}) => {
    log.info({ stage: name, ...extra }, 'recompute stage');
    options.onProgress?.({ runId, stage: name, ...extra });
    await setStage(db, runId, name);
  };
  // Without a worker's copy kept between runs, a fresh one reads the combinations whole.
  const combinations = options.combinations ?? new CombinationsCache();
  const threads = options.summaryThreads;
  // With a held copy and statistics threads, a refresh's combination changes start the results
  // as soon as they are known: the threads compute while the refresh writes the changes and
  // commits (its last ~40-60 ms on a 100k-patient night; on two cores, where the statistics
  // need the CPU anyway, the median night gained less, see the README). Changes mean new
  // combinations, which no published run has, so these results are never copied instead.
  let early: Promise<StartedResults | undefined> | undefined;
  let startedEarly = false;
  const startEarly = (changes: UncommittedCombinationChanges) => {
    // Applying the changes to the copy (~10 ms of this thread at 100k patients) waits, like the
    // results, until the refresh's next statement has gone out: done here, it held that
    // statement back while PostgreSQL and the statistics threads had nothing to do.
    early = yieldToEventLoop().then(() => {
      const held = combinations.applyUncommitted(changes);
      if (held === undefined) return undefined;
      startedEarly = true;
      return startResults(held, parameters, threads);
    });
    // Awaited once the refresh returns; a refresh that fails leaves it unawaited.
    early.catch(() => {});
  };
  try {
    await stage('deriving cohort');
    const refresh = await refreshPatientFacts(db, run, parameters, {
      full: request.full === true,
      derivePartitions: config.recompute.derivePartitions,
      partitionMinPatients: config.recompute.partitionMinPatients,
      ...(threads && options.combinations ? { onCombinationChanges: startEarly } : {}),
    });
    const { combinationChanges, ...refreshed } = refresh;
    log.info(
      {
        ...refreshed,
        combinationsChanged: combinationChanges?.deltas.length,
        resultsStartedEarly: startedEarly,
      },
      'patient facts refreshed',
    );
    await stage('counting attrition');
    const fingerprint = inputsFingerprint(parameters, refresh.combinationsRunNo);
    await recordInputsFingerprint(db, runId, fingerprint);
    // Nothing a run's results are computed from changed since the latest published run (the
    // same combinations, parameters and cutoff): its results are copied, not computed again. A
    // full run (`--full`) always computes.
    const reusable = request.full === true ? undefined : await latestRunWithInputs(db, fingerprint);
    if (reusable !== undefined) {
      await stage('copying results');
      const copied = await copyResults(db, runId, reusable);
      log.info(
        { reusedFrom: reusable, ...copied },
        'inputs identical to the latest published run: results copied',
      );
    } else {
      await computeResults(db, runId, parameters, log, stage, refresh, {
        cache: combinations,
        threads,
        started: await early,
      });
    }
    await options.beforePublish?.(runId);

    await stage('publishing');
    await publishRun(db, runId);
    log.info('run published');
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

/**
 * Counts, attrition, summaries and tests computed from the current patient combinations, or
 * from what was `started` from them while the refresh committed.
 */
async function computeResults(
  db: Kysely<Database>,
  runId: string,
  parameters: AnalysisParameters,
  log: Logger,
  stage: (name: string, extra?: Omit<RecomputeProgress, 'runId' | 'stage'>) => Promise<void>,
  refresh: FactsRefresh,
  {
    cache,
    threads,
    started,
  }: { cache: CombinationsCache; threads: SummaryThreads | undefined; started: StartedResults | undefined },
): Promise<void> {
  // Milliseconds per step, logged with the result (where a slow run spends its time).
  const ms: Record<string, number> = {};
  let mark = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    ms[name] = Math.round(now - mark);
    mark = now;
  };
  // The run holds the recompute lock, so the current combinations are exactly its patients'.
  // (With results started early, this names the copy they were started from: the refresh
  // that announced its changes has committed.)
  const combinations = await cache.current(db, refresh);
  lap('loadCombinations');
  const { groupings, counts, attrition } = started ?? startResults(combinations, parameters, threads);
  lap('startSummaries');
  await recordCounts(db, runId, counts);
  log.info(counts, 'cohort derived');
  await storeAttrition(db, runId, attrition);
  lap('attrition');

  await stage('summarizing', { patientsDone: counts.analysed, patientsTotal: counts.analysed });
  let summarizeMs = 0;
  const stored = await storeResults(db, runId, async (write) => {
    for await (const results of groupings) {
      log.info({ stage: 'summarizing', grouping: results.grouping }, 'summarized grouping');
      write(results);
      summarizeMs += performance.now() - mark;
      // Lets the grouping's rows go out (and the job's lock be renewed) before the next one.
      await yieldToEventLoop();
      mark = performance.now();
    }
    await stage('writing summaries');
    mark = performance.now();
  });
  lap('writeWait');
  ms.summarize = Math.round(summarizeMs);
  log.info(
    {
      ...stored,
      ms,
      combinationsFrom: cache.lastSource,
      startedEarly: started !== undefined,
      combinations: combinations.length,
      statsThreads: threads?.size ?? 0,
    },
    'results computed',
  );
}
