/**
 * `analyzeSurvival`: everything SPEC section 4 asks for, per group and overall, from rows of
 * (group, time, event), optionally with a count of identical subjects per row. Rows are split by
 * group into typed arrays and sorted once natively; every estimator then works on aggregated event
 * tables, which counted rows fill with exactly the numbers their expansion would.
 */
import { InputError } from '../errors.js';
import { type BandSource, type Bands, confidenceBands } from './confidence-bands.js';
import { MAX_SUBJECTS } from './counted-times.js';
import { coxRegression } from './cox.js';
import {
  countedFromEntries,
  type EventTable,
  eventTable,
  groupedEventTable,
  pooledEventTable,
  pooledSample,
  type SortedSample,
} from './event-table.js';
import { type KaplanMeierFit, kaplanMeier } from './kaplan-meier.js';
import { logRankTest } from './log-rank.js';
import { median, quantileStreaming } from './quantiles.js';
import { medianFollowUp } from './reverse-km.js';
import { restrictedMean } from './rmst.js';
import { atRiskTable, cumulativeEvents, survivalAt, timeGrid } from './survival-at.js';
import type {
  AnalysisOptions,
  ConfType,
  CoxComparison,
  CurvePoint,
  GroupSummary,
  SurvivalAnalysis,
  SurvivalRow,
} from './types.js';

export const DEFAULT_TIMES: readonly number[] = [12, 24, 36];
export const OVERALL_LABEL = 'all';

export type ResolvedOptions = {
  confType: ConfType;
  confLevel: number;
  times: readonly number[];
  atRiskStep: number;
  rmstTau: number | undefined;
  includeCurve: boolean;
};

export function resolveOptions(options: AnalysisOptions = {}): ResolvedOptions {
  const confType = options.confType ?? 'log';
  if (confType !== 'log' && confType !== 'log-log' && confType !== 'plain')
    throw new InputError(`conf type must be log, log-log or plain, got ${String(confType)}`);
  const confLevel = options.confLevel ?? 0.95;
  if (!(confLevel > 0 && confLevel < 1))
    throw new InputError(`conf level must be in (0, 1), got ${confLevel}`);
  const times = options.times ?? DEFAULT_TIMES;
  for (const t of times)
    if (!Number.isFinite(t) || t < 0) throw new InputError(`times must be finite and >= 0, got ${t}`);
  const atRiskStep = options.atRiskStep ?? 6;
  if (!(atRiskStep > 0 && Number.isFinite(atRiskStep)))
    throw new InputError(`at-risk step must be > 0, got ${atRiskStep}`);
  const rmstTau = options.rmstTau;
  if (rmstTau !== undefined && !(rmstTau > 0 && Number.isFinite(rmstTau)))
    throw new InputError(`RMST tau must be > 0, got ${rmstTau}`);
  return { confType, confLevel, times, atRiskStep, rmstTau, includeCurve: options.includeCurve ?? true };
}

/** Survival data as columns (one entry per row): no object per row for large inputs. */
export type SurvivalColumns = {
  group: ArrayLike<string>;
  time: ArrayLike<number>;
  /** 1 = death, 0 = censored. */
  event: ArrayLike<number>;
  /**
   * Row i stands for count[i] identical subjects (a positive integer); absent: one subject per
   * row. The results are identical to those of the rows repeated count times.
   */
  count?: ArrayLike<number>;
};

/** Splits rows by group label into sorted samples; labels in JavaScript default sort order. */
export function splitByGroup(rows: readonly SurvivalRow[]): { labels: string[]; samples: SortedSample[] } {
  return splitSubjects(
    rows.length,
    (i) => rows[i]!.group,
    (i) => rows[i]!.time,
    (i) => rows[i]!.event,
    (i) => rows[i]!.count,
  );
}

/** `splitByGroup` for columns. */
export function splitColumnsByGroup(columns: SurvivalColumns): { labels: string[]; samples: SortedSample[] } {
  const n = columns.time.length;
  const { count } = columns;
  if (columns.group.length !== n || columns.event.length !== n || (count && count.length !== n))
    throw new InputError(
      `columns differ in length: group ${columns.group.length}, time ${n}, event ${columns.event.length}` +
        (count ? `, count ${count.length}` : ''),
    );
  return splitSubjects(
    n,
    (i) => columns.group[i]!,
    (i) => columns.time[i]!,
    (i) => columns.event[i]!,
    // A hole in the count column is an error, not one subject.
    count ? (i) => count[i] ?? Number.NaN : undefined,
  );
}

/**
 * Validates the rows and splits them by group into sorted samples. When `countOf` gives a count
 * for any row, row i stands for countOf(i) subjects (undefined: 1) and the samples carry one
 * entry per distinct time with its count; otherwise they are the plain sorted times.
 */
function splitSubjects(
  n: number,
  groupOf: (i: number) => string,
  rawTimeOf: (i: number) => number,
  eventOf: (i: number) => number,
  countOf?: (i: number) => number | undefined,
): { labels: string[]; samples: SortedSample[] } {
  // -0 is read as 0 (x + 0 changes nothing else): otherwise which of the equal times -0 and 0 a
  // result shows (e.g. the RMST's tau) would depend on how the times were sorted or counted.
  const timeOf = (i: number): number => rawTimeOf(i) + 0;
  const index = new Map<string, number>();
  // Rows (not subjects) per group, and death rows: the sizes of the arrays filled below.
  const deathRows: number[] = [];
  const rowTotals: number[] = [];
  const rowGroup = new Int32Array(n);
  let lastLabel: string | undefined;
  let lastGroup = -1;
  let counted = false;
  let subjects = 0;
  for (let i = 0; i < n; i++) {
    const t = timeOf(i);
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0)
      throw new InputError(`row ${i + 1}: time must be a finite number >= 0, got ${String(t)}`);
    const e = eventOf(i);
    if (e !== 0 && e !== 1) throw new InputError(`row ${i + 1}: event must be 0 or 1, got ${String(e)}`);
    // Checked here rather than in a separate scan: uncounted rows pay one property read.
    const c = countOf?.(i);
    if (c === undefined) subjects += 1;
    else {
      if (!Number.isSafeInteger(c) || c < 1)
        throw new InputError(`row ${i + 1}: count must be a positive integer, got ${String(c)}`);
      counted = true;
      subjects += c;
      // Beyond 2^53 the counts' sums would no longer be exact integers.
      if (subjects > MAX_SUBJECTS)
        throw new InputError(`row ${i + 1}: counts add up to more than ${MAX_SUBJECTS} subjects`);
    }
    const label = groupOf(i);
    let g = lastGroup;
    if (label !== lastLabel) {
      let found = index.get(label);
      if (found === undefined) {
        found = index.size;
        index.set(label, found);
        deathRows.push(0);
        rowTotals.push(0);
      }
      g = found;
      lastLabel = label;
      lastGroup = g;
    }
    rowGroup[i] = g;
    rowTotals[g]! += 1;
    deathRows[g]! += e;
  }
  const deaths = deathRows.map((d) => new Float64Array(d));
  const censorings = deathRows.map((d, g) => new Float64Array(rowTotals[g]! - d));
  const labels = [...index.keys()].sort();
  if (counted && countOf)
    return {
      labels,
      samples: countedSamples(labels, index, rowGroup, deaths, censorings, timeOf, eventOf, countOf),
    };
  const di = new Int32Array(deaths.length);
  const ci = new Int32Array(deaths.length);
  for (let i = 0; i < n; i++) {
    const g = rowGroup[i]!;
    if (eventOf(i) === 1) deaths[g]![di[g]!++] = timeOf(i);
    else censorings[g]![ci[g]!++] = timeOf(i);
  }
  const samples = labels.map((label) => {
    const g = index.get(label)!;
    return { deaths: deaths[g]!.sort(), censorings: censorings[g]!.sort() };
  });
  return { labels, samples };
}

/** The second pass of `splitSubjects` for counted rows: times and their counts, per group. */
function countedSamples(
  labels: readonly string[],
  index: ReadonlyMap<string, number>,
  rowGroup: Int32Array,
  deaths: Float64Array[],
  censorings: Float64Array[],
  timeOf: (i: number) => number,
  eventOf: (i: number) => number,
  countOf: (i: number) => number | undefined,
): SortedSample[] {
  const deathCounts = deaths.map((d) => new Float64Array(d.length));
  const censoringCounts = censorings.map((c) => new Float64Array(c.length));
  const di = new Int32Array(deaths.length);
  const ci = new Int32Array(deaths.length);
  for (let i = 0; i < rowGroup.length; i++) {
    const g = rowGroup[i]!;
    if (eventOf(i) === 1) {
      deathCounts[g]![di[g]!] = countOf(i) ?? 1;
      deaths[g]![di[g]!++] = timeOf(i);
    } else {
      censoringCounts[g]![ci[g]!] = countOf(i) ?? 1;
      censorings[g]![ci[g]!++] = timeOf(i);
    }
  }
  return labels.map((label) => {
    const g = index.get(label)!;
    return countedFromEntries(deaths[g]!, deathCounts[g]!, censorings[g]!, censoringCounts[g]!);
  });
}

const orNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

function largestTime(sample: SortedSample): number {
  const d = sample.deaths.length ? sample.deaths[sample.deaths.length - 1]! : Number.NEGATIVE_INFINITY;
  const c = sample.censorings.length
    ? sample.censorings[sample.censorings.length - 1]!
    : Number.NEGATIVE_INFINITY;
  return Math.max(d, c);
}

export function curvePoints(fit: KaplanMeierFit, bands: Bands): CurvePoint[] {
  const out = new Array<CurvePoint>(fit.time.length);
  for (let j = 0; j < fit.time.length; j++) {
    const surv = fit.surv[j]!;
    out[j] = {
      time: fit.time[j]!,
      nRisk: fit.nRisk[j]!,
      nEvent: fit.nEvent[j]!,
      nCensor: fit.nCensor[j]!,
      surv,
      stdErr: orNull(fit.stdErrCumHaz[j]! * surv),
      lower: orNull(bands.lower[j]!),
      upper: orNull(bands.upper[j]!),
    };
  }
  return out;
}

/** The summary of one group (or of all rows), from its event table. */
export function summarizeGroup(
  label: string,
  table: EventTable,
  opts: ResolvedOptions,
  largestTimeOverall: number,
): GroupSummary {
  const fit = kaplanMeier(table);
  // Band arrays only when the curve is wanted; otherwise bands are computed where they are read.
  const bands: BandSource = opts.includeCurve
    ? confidenceBands(fit, opts.confType, opts.confLevel)
    : { confType: opts.confType, confLevel: opts.confLevel };
  const med = 'lower' in bands ? median(fit, bands) : quantileStreaming(fit, 0.5, bands);
  const cumEvents = cumulativeEvents(fit);
  const followUp = medianFollowUp(table, opts.confLevel);
  const rmst = restrictedMean(fit, opts.rmstTau ?? largestTimeOverall);
  let events = 0;
  for (let j = 0; j < table.nEvent.length; j++) events += table.nEvent[j]!;
  return {
    group: label,
    n: table.n,
    events,
    censored: table.n - events,
    median: orNull(med.quantile),
    medianLower: orNull(med.lower),
    medianUpper: orNull(med.upper),
    survival: survivalAt(fit, bands, opts.times, cumEvents).map((s) => ({
      time: s.time,
      surv: s.surv,
      stdErr: orNull(s.stdErr),
      lower: orNull(s.lower),
      upper: orNull(s.upper),
      nRisk: s.nRisk,
      inRange: s.inRange,
    })),
    rmst: { tau: rmst.tau, estimate: rmst.estimate, stdErr: orNull(rmst.stdErr) },
    followUpMedian: orNull(followUp.quantile),
    atRisk: atRiskTable(fit, timeGrid(largestTimeOverall, opts.atRiskStep), cumEvents).map((a) => ({
      time: a.time,
      nRisk: a.nRisk,
    })),
    curve: 'lower' in bands ? curvePoints(fit, bands) : [],
  };
}

export function analyzeSurvival(
  rows: readonly SurvivalRow[],
  options: AnalysisOptions = {},
): SurvivalAnalysis {
  const opts = resolveOptions(options);
  if (rows.length === 0) throw new InputError('no rows to analyze');
  return analyzeSamples(splitByGroup(rows), opts);
}

/** `analyzeSurvival` for columnar input (the same results; no object per subject). */
export function analyzeSurvivalColumns(
  columns: SurvivalColumns,
  options: AnalysisOptions = {},
): SurvivalAnalysis {
  const opts = resolveOptions(options);
  if (columns.time.length === 0) throw new InputError('no rows to analyze');
  return analyzeSamples(splitColumnsByGroup(columns), opts);
}

function analyzeSamples(
  { labels, samples }: { labels: string[]; samples: SortedSample[] },
  opts: ResolvedOptions,
): SurvivalAnalysis {
  const pooled = pooledSample(samples);
  const largest = largestTime(pooled);
  const grouped = groupedEventTable(samples, pooled);
  const groups = labels.map((label, g) =>
    // Each group's own near-equal times are merged within the group, as survfit on that group's
    // rows does (the R reference calls).
    summarizeGroup(label, eventTable(samples[g]!), opts, largest),
  );
  const overall = summarizeGroup(OVERALL_LABEL, pooledEventTable(grouped), opts, largest);
  let logRank: SurvivalAnalysis['logRank'] = null;
  let cox: CoxComparison | null = null;
  if (labels.length >= 2) {
    const lr = logRankTest(grouped);
    logRank = { chisq: lr.chisq, df: lr.df, p: orNull(lr.p) };
  }
  if (labels.length === 2) {
    const model = coxRegression(grouped, labels, { confLevel: opts.confLevel });
    const term = model?.terms[0];
    // No deaths at all: no model (R's coxph has nothing to fit).
    if (term)
      cox = {
        reference: labels[0]!,
        group: labels[1]!,
        hr: orNull(term.hr),
        lower: orNull(term.hrLower),
        upper: orNull(term.hrUpper),
        p: orNull(term.p),
      };
  }
  return { groups, overall, logRank, cox };
}
