import { analyzeSurvival, analyzeSurvivalColumns, type SurvivalColumns } from '../stats/index.js';
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

/** One grouping's survival data as columns (one entry per patient in the grouping). */
export type GroupingColumns = { group: string[]; time: number[]; event: number[] };

/**
 * Builds every grouping's columns page by page as the patients stream in: the worker keeps three
 * packed arrays per grouping (about 24 bytes per patient and grouping) and never an object per
 * patient or per row, so memory stays far below holding the patients themselves.
 */
export function survivalColumnsBuilder(parameters: AnalysisParameters) {
  const definitions = groupingDefinitions(parameters);
  const columns = new Map<Grouping, GroupingColumns>(
    definitions.map((d) => [d.grouping, { group: [], time: [], event: [] }]),
  );
  let patients = 0;
  return {
    /** Adds patients; a row with `patients: n` stands for n patients with the same columns. */
    add(page: Iterable<AnalysedPatient & { patients?: number }>): void {
      for (const patient of page) {
        const count = patient.patients ?? 1;
        patients += count;
        const event = patient.event === 1 ? 1 : 0;
        for (const definition of definitions) {
          const placed = definition.classify(patient);
          if (!placed) continue;
          const target = columns.get(definition.grouping) as GroupingColumns;
          for (let i = 0; i < count; i++) {
            target.group.push(placed.group);
            target.time.push(placed.time);
            target.event.push(event);
          }
        }
      }
    },
    get patients() {
      return patients;
    },
    columns,
  };
}

/**
 * Every grouping's Kaplan-Meier summaries and tests, from the statistics engine. Groups are
 * ordered as the grouping defines them (yes before no, cycle groups ascending); a grouping
 * without patients contributes nothing.
 */
export function summarizeGroupings(
  rowsByGrouping: Map<Grouping, SurvivalRow[] | SurvivalColumns>,
  parameters: AnalysisParameters,
  onGrouping: (grouping: Grouping) => void = () => {},
): RunResults {
  const summaries: GroupResult[] = [];
  const tests: GroupingTest[] = [];
  let position = 0;
  groupingDefinitions(parameters).forEach((definition, groupingIndex) => {
    const data = rowsByGrouping.get(definition.grouping) ?? [];
    onGrouping(definition.grouping);
    const options = {
      confType: parameters.confType,
      confLevel: parameters.confLevel,
      times: parameters.survivalTimes,
      atRiskStep: parameters.atRiskStep,
    };
    let analysis: ReturnType<typeof analyzeSurvival>;
    if (Array.isArray(data)) {
      if (data.length === 0) return;
      analysis = analyzeSurvival(data, options);
    } else {
      const columns = data as SurvivalColumns;
      if (columns.time.length === 0) return;
      analysis = analyzeSurvivalColumns(columns, options);
    }
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
