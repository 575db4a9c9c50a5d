/**
 * Types of the statistics engine's results (SPEC section 8, `survflow km --json`). Shared by the
 * engine (src/stats), the recompute worker that materializes summaries, the CLI and the API.
 * `null` always means "not defined" (R's NA / NaN / Inf): a median not reached, a CI bound where
 * S = 0, an HR that diverges.
 */

export type ConfType = 'log' | 'log-log' | 'plain';

/**
 * One subject: follow-up time (months in survflow, any unit for the engine) and status; with
 * `count`, that many identical subjects (a positive integer; absent = 1).
 */
export type SurvivalRow = { group: string; time: number; event: 0 | 1; count?: number };

export type AnalysisOptions = {
  confType?: ConfType;
  /** Confidence level, default 0.95. */
  confLevel?: number;
  /** Times for survival estimates, default [12, 24, 36]. */
  times?: readonly number[];
  /** Grid step for numbers at risk (0, step, 2*step, ... up to the largest time), default 6. */
  atRiskStep?: number;
  /** RMST horizon; default: the largest observed time over all rows (R's rmean = "common"). */
  rmstTau?: number;
  /** Include the full step curve of each group (default true; the bench and callers that only
   * need the summary figures can skip building one object per distinct time). */
  includeCurve?: boolean;
};

export type CurvePoint = {
  time: number;
  nRisk: number;
  nEvent: number;
  nCensor: number;
  surv: number;
  /** Standard error of S(t) itself (Greenwood). */
  stdErr: number | null;
  lower: number | null;
  upper: number | null;
};

export type SurvivalAt = {
  time: number;
  surv: number;
  stdErr: number | null;
  lower: number | null;
  upper: number | null;
  nRisk: number;
  /** False when `time` is after the last observed time (R carries S forward, n at risk 0). */
  inRange: boolean;
};

export type Rmst = { tau: number; estimate: number; stdErr: number | null };

export type AtRisk = { time: number; nRisk: number };

export type GroupSummary = {
  group: string;
  n: number;
  events: number;
  censored: number;
  median: number | null;
  medianLower: number | null;
  medianUpper: number | null;
  survival: SurvivalAt[];
  rmst: Rmst;
  /** Median follow-up by reverse Kaplan-Meier (censorings as events). */
  followUpMedian: number | null;
  atRisk: AtRisk[];
  curve: CurvePoint[];
};

export type LogRankTest = { chisq: number; df: number; p: number | null };

export type CoxComparison = {
  reference: string;
  group: string;
  hr: number | null;
  lower: number | null;
  upper: number | null;
  p: number | null;
};

export type SurvivalAnalysis = {
  groups: GroupSummary[];
  overall: GroupSummary;
  /** Null with fewer than two groups. */
  logRank: LogRankTest | null;
  /** Present only with exactly two groups (reference = first in sort order). */
  cox: CoxComparison | null;
};
