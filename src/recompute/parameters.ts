import type { Config } from '../config.js';
import type { ConfType } from '../stats/types.js';

/** Days per month: months = days / 30.4375 (365.25 / 12), SPEC section 3. */
export const DAYS_PER_MONTH = 30.4375;

/**
 * Every parameter of one analysis. A run records all of them (column by column and as jsonb), so
 * a published figure can always be reproduced and explained.
 */
export type AnalysisParameters = {
  /** Data cutoff, YYYY-MM-DD: facts whose clinical date is after it are ignored. */
  cutoff: string;
  landmarkMonths: number;
  /** Increasing upper bounds of the cycle groups: [6, 12] gives 1-6, 7-12, >12. */
  cycleGroupBounds: number[];
  suppressionK: number;
  timeUnit: 'months';
  daysPerMonth: number;
  confType: ConfType;
  confLevel: number;
  /** Times (months) of the survival estimates S(t). */
  survivalTimes: number[];
  /** Step (months) of the numbers-at-risk grid. */
  atRiskStep: number;
};

export function analysisParameters(config: Config, cutoff: string): AnalysisParameters {
  return {
    cutoff,
    landmarkMonths: config.recompute.landmarkMonths,
    cycleGroupBounds: [...config.recompute.cycleGroupBounds],
    suppressionK: config.recompute.suppressionK,
    timeUnit: 'months',
    daysPerMonth: DAYS_PER_MONTH,
    confType: 'log',
    confLevel: 0.95,
    survivalTimes: [12, 24, 36],
    atRiskStep: 6,
  };
}

/**
 * Labels of the cycle groups, in order: bounds [6, 12] give `1-6`, `7-12`, `>12`; a group of
 * one number is labelled with that number alone.
 */
export function cycleGroupLabels(bounds: readonly number[]): { upper: number | null; label: string }[] {
  const groups: { upper: number | null; label: string }[] = [];
  let lower = 1;
  for (const upper of bounds) {
    groups.push({ upper, label: lower === upper ? String(upper) : `${lower}-${upper}` });
    lower = upper + 1;
  }
  groups.push({ upper: null, label: `>${bounds[bounds.length - 1] ?? 0}` });
  return groups;
}

/** The calendar date (YYYY-MM-DD) of an instant in a time zone: the run date of a schedule. */
export function dateInTimeZone(now: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(now);
}
