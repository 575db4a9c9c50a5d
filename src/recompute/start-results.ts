import { type AttritionStep, attritionFrom, countsFrom } from './attrition.js';
import type { DerivationCounts } from './derive-cohort.js';
import type { AnalysisParameters } from './parameters.js';
import type { PatientCombination } from './patient-combinations.js';
import { type GroupingResults, summarizeGroupings, survivalColumnsByGrouping } from './summarize.js';
import type { SummaryThreads } from './summary-threads.js';

/** What a run computes from its combinations before it writes any of it. */
export type StartedResults = {
  /** With statistics threads, already handed to them. */
  groupings: AsyncIterable<GroupingResults>;
  counts: DerivationCounts;
  attrition: AttritionStep[];
};

export function startResults(
  combinations: PatientCombination[],
  parameters: AnalysisParameters,
  threads: SummaryThreads | undefined,
): StartedResults {
  // With statistics threads, every grouping is handed to them now: they compute while the
  // counts and the attrition are written.
  const groupings = summarizeGroupings(
    survivalColumnsByGrouping(
      combinations.filter((c) => c.analysable),
      parameters,
    ),
    parameters,
    threads?.analyze,
  );
  return {
    groupings,
    counts: countsFrom(combinations),
    attrition: attritionFrom(combinations, parameters.landmarkMonths),
  };
}
