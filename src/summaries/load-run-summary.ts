import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { NotFoundError } from '../errors.js';
import type { AttritionStep } from '../recompute/attrition.js';
import type { AtRisk, CoxComparison, LogRankTest, Rmst, SurvivalAt } from '../stats/types.js';

/** One published summary (SPEC section 8); a suppressed one has every figure null. */
export type PublishedSummary = {
  grouping: string;
  group: string;
  n: number | null;
  events: number | null;
  censored: number | null;
  median: number | null;
  medianLower: number | null;
  medianUpper: number | null;
  survival: SurvivalAt[] | null;
  rmst: Rmst | null;
  followUpMedian: number | null;
  atRisk: AtRisk[] | null;
  suppressed: boolean;
};

export type PublishedTest = { grouping: string; logRank: LogRankTest | null; cox: CoxComparison | null };

/** The `survflow summary --format json` document (SPEC section 8); also what the API serves. */
export type RunSummaryDocument = {
  run: { id: string; cutoff: string; publishedAt: string; parameters: Record<string, unknown> };
  attrition: AttritionStep[];
  summaries: PublishedSummary[];
  tests: PublishedTest[];
};

/**
 * Loads a published run (the latest when `runId` is absent) as the SPEC section 8 document.
 * Summaries come from the `published_summaries` view, which applies small-cell suppression with
 * the run's own k: the CLI, the API and an analyst querying the views all see the same masking.
 * Throws NotFoundError when there is no such published run.
 */
export async function loadRunSummary(db: Kysely<Database>, runId?: string): Promise<RunSummaryDocument> {
  const run = await (runId === undefined
    ? db.selectFrom('latest_run').selectAll()
    : db.selectFrom('runs').selectAll().where('id', '=', runId).where('status', '=', 'published')
  ).executeTakeFirst();
  if (!run) {
    throw new NotFoundError(
      runId === undefined
        ? 'no published run yet (run `survflow recompute`)'
        : `no published run with id ${runId}`,
    );
  }
  const [attrition, summaries, tests] = await Promise.all([
    db.selectFrom('run_attrition').selectAll().where('run_id', '=', run.id).orderBy('position').execute(),
    db
      .selectFrom('published_summaries')
      .selectAll()
      .where('run_id', '=', run.id)
      .orderBy('position')
      .execute(),
    db.selectFrom('run_tests').selectAll().where('run_id', '=', run.id).orderBy('position').execute(),
  ]);
  return {
    run: {
      id: run.id,
      cutoff: run.cutoff,
      publishedAt: new Date(run.published_at as Date).toISOString(),
      parameters: run.parameters,
    },
    attrition: attrition.map((a) => ({
      step: a.step,
      patients: a.patients,
      ...(a.excluded === null ? {} : { excluded: a.excluded }),
      ...(a.reasons === null ? {} : { reasons: a.reasons }),
    })),
    summaries: summaries.map((s) => publishedSummary(s.grouping, s.group_label, s.suppressed, s.summary)),
    tests: tests.map((t) => {
      const test = t.test as { logRank: LogRankTest | null; cox: CoxComparison | null };
      return { grouping: t.grouping, logRank: test.logRank ?? null, cox: test.cox ?? null };
    }),
  };
}

/** A summary as published when it describes fewer than k patients: labels kept, figures null. */
export function suppressedSummary(grouping: string, group: string): PublishedSummary {
  return {
    grouping,
    group,
    n: null,
    events: null,
    censored: null,
    median: null,
    medianLower: null,
    medianUpper: null,
    survival: null,
    rmst: null,
    followUpMedian: null,
    atRisk: null,
    suppressed: true,
  };
}

function publishedSummary(
  grouping: string,
  group: string,
  suppressed: boolean,
  stored: Record<string, unknown> | null,
): PublishedSummary {
  if (suppressed || stored === null) return suppressedSummary(grouping, group);
  const s = stored as Omit<PublishedSummary, 'grouping' | 'suppressed'>;
  return {
    grouping,
    group,
    n: s.n,
    events: s.events,
    censored: s.censored,
    median: s.median,
    medianLower: s.medianLower,
    medianUpper: s.medianUpper,
    survival: s.survival,
    rmst: s.rmst,
    followUpMedian: s.followUpMedian,
    atRisk: s.atRisk,
    suppressed: false,
  };
}

/** The survival times of a run (its parameters), for the table and CSV columns. */
export function survivalTimesOf(document: RunSummaryDocument): number[] {
  const times = document.run.parameters.survivalTimes;
  return Array.isArray(times) ? times.filter((t): t is number => typeof t === 'number') : [12, 24, 36];
}

/** The suppression threshold k of a run. */
export function suppressionKOf(document: RunSummaryDocument): number {
  const k = document.run.parameters.suppressionK;
  return typeof k === 'number' ? k : 5;
}
