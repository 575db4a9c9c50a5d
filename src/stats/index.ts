/**
 * The survival statistics engine: pure functions, no I/O. `analyzeSurvival` is the entry point;
 * the lower-level pieces are exported for the recompute worker and the plotting code.
 */
export {
  analyzeSurvival,
  analyzeSurvivalColumns,
  curvePoints,
  DEFAULT_TIMES,
  OVERALL_LABEL,
  resolveOptions,
  type SurvivalColumns,
  splitByGroup,
  splitColumnsByGroup,
  summarizeGroup,
} from './analyze.js';
export {
  type Band,
  type BandSource,
  type Bands,
  bandAt,
  bandAtIndex,
  confidenceBands,
} from './confidence-bands.js';
export { type ChiSquareTest, type CoxModel, type CoxOptions, type CoxTerm, coxRegression } from './cox.js';
export { chiSquareUpperTail, normalCriticalValue, twoSidedNormalP } from './distributions.js';
export {
  type EventTable,
  eventTable,
  type GroupedEventTable,
  groupedEventTable,
  pooledEventTable,
  pooledSample,
  type SortedSample,
  sortedSample,
} from './event-table.js';
export {
  type KaplanMeierFit,
  kaplanMeier,
  lastIndexAtOrBefore,
  reverseKaplanMeier,
  survivalStdErr,
} from './kaplan-meier.js';
export { type LogRankResult, logRankTest } from './log-rank.js';
export {
  CrossingFinder,
  firstCrossing,
  median,
  type QuantileEstimate,
  quantile,
  quantileStreaming,
  SURVIVAL_TOLERANCE,
} from './quantiles.js';
export { medianFollowUp } from './reverse-km.js';
export { type RmstEstimate, restrictedMean } from './rmst.js';
export {
  type AtRiskEstimate,
  atRiskTable,
  type CumulativeEvents,
  cumulativeEvents,
  numberAtRisk,
  type SurvivalEstimateAt,
  survivalAt,
  timeGrid,
} from './survival-at.js';
export { nearEqualTimeCuts, TIME_TOLERANCE } from './time-fix.js';
export * from './types.js';
