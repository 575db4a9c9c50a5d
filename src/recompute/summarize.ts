import { InputError } from '../errors.js';
import { analyzeSurvivalColumns, type SurvivalColumns } from '../stats/index.js';
import type { GroupSummary } from '../stats/types.js';
import { CombinationReads, NO_GROUP } from './combination-reads.js';
import { type AnalysedPatient, type Grouping, groupingDefinitions, labelOf } from './groupings.js';
import type { AnalysisParameters } from './parameters.js';
import { type SummaryRow, summaryRow, type TestRow, testRow } from './summary-rows.js';

/**
 * One grouping's survival data as counted columns (row i stands for `count[i]` patients, in
 * group `labels[group[i]]`). Every column is a typed array, so a statistics thread receives
 * them as one copy of their bytes (an array of ~17,000 label strings took ~2 ms to send per
 * grouping, and as long again to receive).
 */
export type GroupingColumns = {
  labels: string[];
  group: Int32Array;
  time: Float64Array;
  /** 1 = death, 0 = censored. */
  event: Uint8Array;
  count: Float64Array;
};

/** Analysable patients as rows; a row with `patients: n` stands for n patients with its columns. */
export type CountedAnalysedPatients = AnalysedPatient & { patients?: number };

/**
 * Every grouping's survival columns, built on demand from patient combinations as counted rows:
 * the statistics engine gives for a counted row exactly what it gives for the same row repeated,
 * so a grouping of 1M patients is a few thousand rows, never a million entries. Nothing is
 * allocated per row: this runs once per grouping and run, mostly before V8 has optimized it,
 * and each accessor of the definitions reads each row once for all groupings (CombinationReads).
 */
export function survivalColumnsByGrouping(
  combinations: readonly CountedAnalysedPatients[],
  parameters: AnalysisParameters,
): { get(grouping: Grouping): GroupingColumns | undefined } {
  const definitions = new Map(groupingDefinitions(parameters).map((d) => [d.grouping, d]));
  let ranks: Int32Array | undefined;
  let reads: CombinationReads | undefined;
  return {
    get(grouping) {
      const definition = definitions.get(grouping);
      if (!definition) return undefined;
      // The columns come out in ascending time, so that every group's times reach the engine
      // sorted and are summed in one pass (`sortCounted`) instead of sorted again in every
      // grouping. A landmark time is the time less the landmark: one order serves them all.
      // The rows are read in their own order (reading 17,000 objects in time order, scattered
      // in memory, cost ~20 ms more) and the columns written at their time ranks.
      ranks ??= timeRanks(combinations);
      reads ??= new CombinationReads(combinations);
      const included = reads.mask(definition.includes);
      const { time: times, valid } = reads.time(definition.timeOf);
      const [firstPart, secondPart] = definition.labelParts;
      const first = reads.part(firstPart);
      const second = secondPart === undefined ? undefined : reads.part(secondPart);
      // A group per pair of part values, numbered in order of first appearance in row order; a
      // label string is made once per group, not per row.
      const width = second === undefined ? 1 : Math.max(1, second.values.length);
      const groupOfParts = new Int32Array(Math.max(1, first.values.length) * width).fill(-1);
      const labels: string[] = [];
      const rows = combinations.length;
      const group = new Int32Array(rows);
      const rowAtRank = new Int32Array(rows).fill(-1);
      let n = 0;
      for (let i = 0; i < rows; i++) {
        if (included[i] === 0) continue;
        // A typed column would read a missing time as 0: refuse it, as the engine does.
        if (valid[i] === 0) {
          const t = definition.timeOf(combinations[i] as CountedAnalysedPatients);
          throw new InputError(`${grouping}: a patient's time must be a number, got ${String(t)}`);
        }
        const a = first.codes[i] as number;
        const b = second === undefined ? 0 : (second.codes[i] as number);
        // An analysable (or landmark-eligible) patient always has a cycle group; a row without
        // one would be a derivation fault, not a group of its own.
        if (a === NO_GROUP || b === NO_GROUP)
          throw new InputError(`${grouping}: a patient in this grouping has no group`);
        const pair = a * width + b;
        let code = groupOfParts[pair] as number;
        if (code < 0) {
          code = labels.length;
          labels.push(labelOf(definition.labelParts, combinations[i] as CountedAnalysedPatients));
          groupOfParts[pair] = code;
        }
        group[i] = code;
        rowAtRank[ranks[i] as number] = i;
        n++;
      }
      const columns: GroupingColumns = {
        labels,
        group: new Int32Array(n),
        time: new Float64Array(n),
        event: new Uint8Array(n),
        count: new Float64Array(n),
      };
      let k = 0;
      for (const i of rowAtRank) {
        if (i < 0) continue;
        columns.group[k] = group[i] as number;
        columns.time[k] = times[i] as number;
        columns.event[k] = reads.event[i] as number;
        columns.count[k] = reads.count[i] as number;
        k++;
      }
      return columns;
    },
  };
}

/**
 * Each row's position in ascending `time_months` (ties in row order; rows without a numeric
 * time last, in row order): a bucket per distinct time and a native sort of the distinct
 * times, ~4 ms for 17,000 rows where a comparator sort took 12-25 ms.
 */
export function timeRanks(rows: readonly { time_months: number | null }[]): Int32Array {
  const buckets = new Map<number, number[]>();
  const untimed: number[] = [];
  rows.forEach((row, i) => {
    const t = row.time_months;
    if (typeof t !== 'number' || Number.isNaN(t)) untimed.push(i);
    else {
      const bucket = buckets.get(t);
      if (bucket) bucket.push(i);
      else buckets.set(t, [i]);
    }
  });
  const ranks = new Int32Array(rows.length);
  let rank = 0;
  for (const t of Float64Array.from(buckets.keys()).sort())
    for (const i of buckets.get(t) as number[]) ranks[i] = rank++;
  for (const i of untimed) ranks[i] = rank++;
  return ranks;
}

/** The engine's columns: each row's group label from its code. */
export function survivalColumnsOf(columns: GroupingColumns): SurvivalColumns {
  const group = new Array<string>(columns.group.length);
  for (let i = 0; i < group.length; i++) group[i] = columns.labels[columns.group[i] as number] as string;
  return { group, time: columns.time, event: columns.event, count: columns.count };
}

/**
 * One grouping's results as rows to store: a summary per group with patients, in the order the
 * grouping defines (yes before no, cycle groups ascending; labels it does not define after them,
 * sorted), and its between-group test (none for `overall`). Summary rows get their positions
 * from `summarizeGroupings`.
 */
export type GroupingRows = { grouping: Grouping; summaries: SummaryRow[]; test: TestRow | null };

/**
 * The statistics of one grouping (the `groupingIndex`-th of `groupingDefinitions`), as rows. A
 * pure function of its arguments, so a statistics thread gives exactly what the caller's thread
 * would.
 */
export function analyzeGrouping(
  groupingIndex: number,
  columns: GroupingColumns,
  parameters: AnalysisParameters,
): GroupingRows {
  const definition = groupingDefinitions(parameters)[groupingIndex];
  if (!definition) throw new RangeError(`no grouping at index ${groupingIndex}`);
  const analysis = analyzeSurvivalColumns(survivalColumnsOf(columns), {
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
  return {
    grouping: definition.grouping,
    summaries: ordered.map((label) => summaryRow(definition.grouping, byLabel.get(label) as GroupSummary)),
    test:
      definition.grouping === 'overall'
        ? null
        : testRow(definition.grouping, groupingIndex, analysis.logRank, analysis.cox),
  };
}

/** Computes `analyzeGrouping` somewhere (a pool of statistics threads: summary-threads.ts). */
export type GroupingAnalyzer = (
  groupingIndex: number,
  columns: GroupingColumns,
  parameters: AnalysisParameters,
) => Promise<GroupingRows>;

/** One grouping's rows, summary positions assigned. */
export type GroupingResults = {
  grouping: Grouping;
  summaries: (SummaryRow & { position: number })[];
  test: TestRow | null;
};

/**
 * Every grouping's Kaplan-Meier summaries and tests, one grouping at a time in output order, so
 * the caller writes each grouping while the next is computed. A grouping without patients
 * yields nothing. Summary positions run across groupings; a test's position is its grouping's
 * index.
 *
 * With an `analyzer`, every grouping's columns are built and handed to it by this call, before
 * anything is iterated (its threads compute them side by side while the caller does other
 * work), and each is yielded once it and those before it are done. Without one, each grouping
 * is computed on this thread when the iteration reaches it.
 */
export function summarizeGroupings(
  columnsByGrouping: { get(grouping: Grouping): GroupingColumns | undefined },
  parameters: AnalysisParameters,
  analyzer?: GroupingAnalyzer,
): AsyncIterable<GroupingResults> {
  const groupings = groupingDefinitions(parameters).map((definition, groupingIndex) => ({
    definition,
    groupingIndex,
  }));
  if (!analyzer) {
    return inOrder(
      groupings.map(({ definition, groupingIndex }) => async () => {
        const columns = columnsByGrouping.get(definition.grouping);
        if (!columns || columns.time.length === 0) return undefined;
        return analyzeGrouping(groupingIndex, columns, parameters);
      }),
    );
  }
  const dispatched = groupings.map(({ definition, groupingIndex }) => {
    const columns = columnsByGrouping.get(definition.grouping);
    if (!columns || columns.time.length === 0) return Promise.resolve(undefined);
    const rows = analyzer(groupingIndex, columns, parameters);
    // Awaited in order when iterated; until then a failure must not count as unhandled.
    rows.catch(() => {});
    return rows;
  });
  return inOrder(dispatched.map((rows) => () => rows));
}

/** Yields each grouping's rows in order (skipping groupings without patients), positions assigned. */
async function* inOrder(
  steps: readonly (() => Promise<GroupingRows | undefined>)[],
): AsyncGenerator<GroupingResults, void, undefined> {
  let position = 0;
  for (const step of steps) {
    const rows = await step();
    if (!rows) continue;
    yield {
      grouping: rows.grouping,
      summaries: rows.summaries.map((row) => ({ ...row, position: position++ })),
      test: rows.test,
    };
  }
}
