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
export type RunResults = { summaries: GroupResult[]; tests: GroupingTest[] };

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

/**
 * Every grouping's Kaplan-Meier summaries and tests, from the statistics engine. Groups are
 * ordered as the grouping defines them (yes before no, cycle groups ascending); a grouping
 * without patients contributes nothing.
 */
export function summarizeGroupings(
  columnsByGrouping: { get(grouping: Grouping): SurvivalColumns | undefined },
  parameters: AnalysisParameters,
  onGrouping: (grouping: Grouping) => void = () => {},
): RunResults {
  const summaries: GroupResult[] = [];
  const tests: GroupingTest[] = [];
  let position = 0;
  groupingDefinitions(parameters).forEach((definition, groupingIndex) => {
    const columns = columnsByGrouping.get(definition.grouping);
    onGrouping(definition.grouping);
    const options = {
      confType: parameters.confType,
      confLevel: parameters.confLevel,
      times: parameters.survivalTimes,
      atRiskStep: parameters.atRiskStep,
    };
    if (!columns || columns.time.length === 0) return;
    const analysis = analyzeSurvivalColumns(columns, options);
    const byLabel = new Map(analysis.groups.map((g) => [g.group, g]));
    const ordered = [
      ...definition.labels.filter((label) => byLabel.has(label)),
      ...[...byLabel.keys()].filter((label) => !definition.labels.includes(label)).sort(),
    ];
    for (const label of ordered) {
      summaries.push({
        grouping: definition.grouping,
        position: position++,
        summary: byLabel.get(label) as GroupSummary,
      });
    }
    if (definition.grouping !== 'overall') {
      tests.push({
        grouping: definition.grouping,
        position: groupingIndex,
        logRank: analysis.logRank,
        cox: analysis.cox,
      });
    }
  });
  return { summaries, tests };
}
