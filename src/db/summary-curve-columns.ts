import type { CurvePoint } from '../stats/types.js';
import type { RunSummariesTable } from './database.js';

/**
 * The step-curve columns of `run_summaries` and the summaries views (migration
 * 2026-11-27T04-30-00Z), each with the curve point field it holds: element i of every column is
 * the curve's i-th point. Written by summary-rows.ts, read by the report, copied by
 * reuse-results.ts.
 */
export const CURVE_COLUMNS = {
  curve_time: 'time',
  curve_n_risk: 'nRisk',
  curve_n_event: 'nEvent',
  curve_n_censor: 'nCensor',
  curve_surv: 'surv',
  curve_std_err: 'stdErr',
  curve_lower: 'lower',
  curve_upper: 'upper',
} as const satisfies Partial<Record<keyof RunSummariesTable, keyof CurvePoint>>;

export type CurveColumnName = keyof typeof CURVE_COLUMNS;

export const CURVE_COLUMN_NAMES = Object.keys(CURVE_COLUMNS) as CurveColumnName[];

/** A stored step curve (null columns: none stored) as points; NULL elements read as null. */
export function curveFromColumns(
  row: Record<CurveColumnName, readonly (number | null)[] | null>,
): CurvePoint[] | null {
  const time = row.curve_time;
  if (time === null) return null;
  return time.map((_, i) => {
    const point: Record<string, number | null> = {};
    for (const column of CURVE_COLUMN_NAMES) point[CURVE_COLUMNS[column]] = row[column]?.[i] ?? null;
    return point as CurvePoint;
  });
}
