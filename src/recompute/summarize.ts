import { analyzeSurvivalColumns, type SurvivalColumns } from '../stats/index.js';
import type { CoxComparison, GroupSummary, LogRankTest } from '../stats/types.js';
import { type AnalysedPatient, type Grouping, groupingDefinitions } from './groupings.js';
import type { AnalysisParameters } from './parameters.js';

export type GroupResult = { grouping: Grouping; position: number; summary: GroupSummary };
export type GroupingTest = {
  grouping: Grouping;
  position: number;
  logRank: LogRankTest | null;
  cox: CoxComparison | null;
};

/** One grouping's survival data as counted columns (row i stands for `count[i]` patients). */
export type GroupingColumns = { group: string[]; time: number[]; event: number[]; count: number[] };

/** Analysable patients as rows; a row with `patients: n` stands for n patients with its columns. */
export type CountedAnalysedPatients = AnalysedPatient & { patients?: number };

/**
 * Every grouping's survival columns, built on demand from patient combinations as counted rows:
 * the statistics engine gives for a counted row exactly what it gives for the same row repeated,
 * so a grouping of 1M patients is a few thousand rows, never a million entries.
 */
export function survivalColumnsByGrouping(
  combinations: readonly CountedAnalysedPatients[],
  parameters: AnalysisParameters,
): { get(grouping: Grouping): GroupingColumns | undefined } {
  const definitions = new Map(groupingDefinitions(parameters).map((d) => [d.grouping, d]));
  return {
    get(grouping) {
      const definition = definitions.get(grouping);
      if (!definition) return undefined;
      const columns: GroupingColumns = { group: [], time: [], event: [], count: [] };
      for (const combination of combinations) {
        const placed = definition.classify(combination);
        if (!placed) continue;
        columns.group.push(placed.group);
        columns.time.push(placed.time);
        columns.event.push(combination.event === 1 ? 1 : 0);
        columns.count.push(combination.patients ?? 1);
      }
      return columns;
    },
  };
}

/** One grouping's summaries (one per group with patients) and its between-group test. */
export type GroupingResults = { grouping: Grouping; summaries: GroupResult[]; test: GroupingTest | null };

/**
 * Every grouping's Kaplan-Meier summaries and tests, from the statistics engine, one grouping at
 * a time (a generator, so the caller can write each grouping while the next is computed). Groups
 * are ordered as the grouping defines them (yes before no, cycle groups ascending); a grouping
 * without patients yields nothing. Summary positions run across groupings; a test's position is
 * its grouping's index.
 */
export function* summarizeGroupings(
  columnsByGrouping: { get(grouping: Grouping): SurvivalColumns | undefined },
  parameters: AnalysisParameters,
): Generator<GroupingResults, void, undefined> {
  let position = 0;
  const options = {
    confType: parameters.confType,
    confLevel: parameters.confLevel,
    times: parameters.survivalTimes,
    atRiskStep: parameters.atRiskStep,
  };
  for (const [groupingIndex, definition] of groupingDefinitions(parameters).entries()) {
    const columns = columnsByGrouping.get(definition.grouping);
    if (!columns || columns.time.length === 0) continue;
    const analysis = analyzeSurvivalColumns(columns, options);
    const byLabel = new Map(analysis.groups.map((g) => [g.group, g]));
    const ordered = [
      ...definition.labels.filter((label) => byLabel.has(label)),
      ...[...byLabel.keys()].filter((label) => !definition.labels.includes(label)).sort(),
    ];
    const summaries = ordered.map((label) => ({
      grouping: definition.grouping,
      position: position++,
      summary: byLabel.get(label) as GroupSummary,
    }));
    const test =
      definition.grouping === 'overall'
        ? null
        : {
            grouping: definition.grouping,
            position: groupingIndex,
            logRank: analysis.logRank,
            cox: analysis.cox,
          };
    yield { grouping: definition.grouping, summaries, test };
  }
}
