import type { CoxComparison, CurvePoint, LogRankTest, Rmst } from '../stats/types.js';

/**
 * The parts of a published run's summary JSON (SPEC section 8, `survflow summary --format json`)
 * that the plot and the report read. Written structurally, so the recompute module's document
 * type is assignable to it. A suppressed summary keeps `grouping`, `group` and
 * `suppressed: true` and nulls every figure, which is why nearly everything here may be null.
 */

export type SurvivalEstimate = {
  time: number;
  surv: number | null;
  stdErr?: number | null;
  lower: number | null;
  upper: number | null;
  nRisk?: number | null;
  inRange?: boolean;
};

export type AtRiskEntry = { time: number; nRisk: number | null };

export type PublishedGroupSummary = {
  grouping: string;
  group: string;
  n: number | null;
  events: number | null;
  censored: number | null;
  median: number | null;
  medianLower: number | null;
  medianUpper: number | null;
  survival?: readonly SurvivalEstimate[] | null;
  rmst?: Rmst | null;
  followUpMedian?: number | null;
  atRisk?: readonly AtRiskEntry[] | null;
  suppressed: boolean;
  /** The Kaplan-Meier step curve, one point per distinct time (deaths and censorings). */
  curve?: readonly CurvePoint[] | null;
};

export type GroupingTests = {
  logRank: LogRankTest | null;
  cox: CoxComparison | null;
};

export type PublishedGroupingTests = GroupingTests & { grouping: string };
