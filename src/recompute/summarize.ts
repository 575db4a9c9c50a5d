import { analyzeSurvival } from '../stats/index.js';
import type { CoxComparison, GroupSummary, LogRankTest, SurvivalRow } from '../stats/types.js';
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

/** The survival rows of every grouping, built in one pass over the analysable patients. */
export function survivalRowsByGrouping(
  patients: Iterable<AnalysedPatient>,
  parameters: AnalysisParameters,
): Map<Grouping, SurvivalRow[]> {
  const definitions = groupingDefinitions(parameters);
  const rows = new Map<Grouping, SurvivalRow[]>(definitions.map((d) => [d.grouping, []]));
  for (const patient of patients) {
    const event = patient.event === 1 ? 1 : 0;
    for (const definition of definitions) {
      const placed = definition.classify(patient);
      if (placed) rows.get(definition.grouping)?.push({ group: placed.group, time: placed.time, event });
    }
  }
  return rows;
}

/**
 * Every grouping's Kaplan-Meier summaries and tests, from the statistics engine. Groups are
 * ordered as the grouping defines them (yes before no, cycle groups ascending); a grouping
 * without patients contributes nothing.
 */
export function summarizeGroupings(
  rowsByGrouping: Map<Grouping, SurvivalRow[]>,
  parameters: AnalysisParameters,
  onGrouping: (grouping: Grouping) => void = () => {},
): RunResults {
  const summaries: GroupResult[] = [];
  const tests: GroupingTest[] = [];
  let position = 0;
  groupingDefinitions(parameters).forEach((definition, groupingIndex) => {
    const rows = rowsByGrouping.get(definition.grouping) ?? [];
    onGrouping(definition.grouping);
    if (rows.length === 0) return;
    const analysis = analyzeSurvival(rows, {
      confType: parameters.confType,
      confLevel: parameters.confLevel,
      times: parameters.survivalTimes,
      atRiskStep: parameters.atRiskStep,
    });
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
