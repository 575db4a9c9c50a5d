import type { Insertable } from 'kysely';
import { binaryFloat8Array } from '../db/binary-float8-array.js';
import type { RunSummariesTable, RunTestsTable } from '../db/database.js';
import { CURVE_COLUMN_NAMES, CURVE_COLUMNS, type CurveColumnName } from '../db/summary-curve-columns.js';
import type { CoxComparison, CurvePoint, GroupSummary, LogRankTest } from '../stats/types.js';
import type { Grouping } from './groupings.js';

/**
 * A `run_summaries` row without its run and position: one group's summary as stored, its SPEC
 * section 8 document as JSON text and its step curve as eight binary-encoded `float8[]` columns
 * (migration 2026-11-27T04-30-00Z). Built where the summary is computed (a statistics thread, see
 * summary-threads.ts), so only text and bytes cross threads, not ~30,000 curve point objects.
 */
export type SummaryRow = Omit<Insertable<RunSummariesTable>, 'run_id' | 'position'>;

/** A `run_tests` row without its run: one grouping's log-rank test and Cox comparison. */
export type TestRow = Omit<Insertable<RunTestsTable>, 'run_id'>;

const survivalAt = (summary: GroupSummary, time: number) =>
  summary.survival.find((s) => s.time === time)?.surv ?? null;

/**
 * A curve as its columns, each binary-encoded for its `float8[]` column. One pass reads each
 * point's fields by name: read column by column through a field name held in a variable, each
 * of a night's ~230,000 values was a generic keyed load (the bench's 100k night, 29,000 points:
 * ~5-8 ms warm before, ~3.5-6 ms after; the same bytes).
 */
function curveColumns(curve: readonly CurvePoint[]): Record<CurveColumnName, Uint8Array> {
  const n = curve.length;
  const time = new Array<number>(n);
  const nRisk = new Array<number>(n);
  const nEvent = new Array<number>(n);
  const nCensor = new Array<number>(n);
  const surv = new Array<number>(n);
  const stdErr = new Array<number | null>(n);
  const lower = new Array<number | null>(n);
  const upper = new Array<number | null>(n);
  for (let i = 0; i < n; i++) {
    const point = curve[i] as CurvePoint;
    time[i] = point.time;
    nRisk[i] = point.nRisk;
    nEvent[i] = point.nEvent;
    nCensor[i] = point.nCensor;
    surv[i] = point.surv;
    stdErr[i] = point.stdErr;
    lower[i] = point.lower;
    upper[i] = point.upper;
  }
  const columns: Record<keyof CurvePoint, ArrayLike<number | null>> = {
    time,
    nRisk,
    nEvent,
    nCensor,
    surv,
    stdErr,
    lower,
    upper,
  };
  const encoded = {} as Record<CurveColumnName, Uint8Array>;
  for (const column of CURVE_COLUMN_NAMES)
    encoded[column] = binaryFloat8Array(columns[CURVE_COLUMNS[column]]);
  return encoded;
}

export function summaryRow(grouping: Grouping, summary: GroupSummary): SummaryRow {
  const { curve, ...document } = summary;
  return {
    grouping,
    group_label: summary.group,
    n: summary.n,
    events: summary.events,
    censored: summary.censored,
    median: summary.median,
    median_lower: summary.medianLower,
    median_upper: summary.medianUpper,
    surv_12: survivalAt(summary, 12),
    surv_24: survivalAt(summary, 24),
    surv_36: survivalAt(summary, 36),
    rmst: summary.rmst.estimate,
    rmst_tau: summary.rmst.tau,
    follow_up_median: summary.followUpMedian,
    summary: JSON.stringify(document),
    ...curveColumns(curve),
  };
}

export function testRow(
  grouping: Grouping,
  position: number,
  logRank: LogRankTest | null,
  cox: CoxComparison | null,
): TestRow {
  return {
    grouping,
    position,
    logrank_chisq: logRank?.chisq ?? null,
    logrank_df: logRank?.df ?? null,
    logrank_p: logRank?.p ?? null,
    cox_reference: cox?.reference ?? null,
    cox_group: cox?.group ?? null,
    cox_hr: cox?.hr ?? null,
    cox_lower: cox?.lower ?? null,
    cox_upper: cox?.upper ?? null,
    cox_p: cox?.p ?? null,
    test: JSON.stringify({ logRank, cox }),
  };
}
