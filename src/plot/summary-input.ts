import type { CoxComparison, CurvePoint, LogRankTest } from '../stats/types.js';
import type { PublishedSummary } from '../summaries/load-run-summary.js';

/**
 * The parts of a published run's summary JSON (SPEC section 8, `survflow summary --format json`)
 * that the plot and the report read. A suppressed summary keeps `grouping`, `group` and
 * `suppressed: true` and nulls every figure, which is why nearly everything here may be null.
 */

/** A published summary (SPEC section 8) with, for drawing, its Kaplan-Meier step curve. */
export type PublishedGroupSummary = PublishedSummary & {
  /** One point per distinct time (deaths and censorings); absent or null when suppressed. */
  curve?: readonly CurvePoint[] | null;
};

export type GroupingTests = {
  logRank: LogRankTest | null;
  cox: CoxComparison | null;
};

export type PublishedGroupingTests = GroupingTests & { grouping: string };
