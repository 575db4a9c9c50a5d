/**
 * The aggregated event table every estimator works from: per distinct time (after R's near-equal
 * time merging), the number of deaths and censorings, for one data set or for several groups at
 * the times of the pooled data. Built from sorted typed arrays in linear passes: no per-row object.
 */
import { mergeCounted, sortCounted, subjectCount } from './counted-times.js';
import { mergeNearEqualInPlace } from './time-fix.js';

/**
 * One data set's follow-up, split by status and each sorted ascending. With frequency counts
 * (`deathCounts` / `censoringCounts`, parallel to the times) an entry stands for that many
 * identical subjects; without them, for one.
 */
export type SortedSample = {
  /** Times of deaths (event = 1), ascending. */
  deaths: Float64Array;
  /** Times of censorings (event = 0), ascending. */
  censorings: Float64Array;
  /** Deaths at each entry of `deaths` (positive integers); absent: one each. */
  deathCounts?: Float64Array;
  /** Censorings at each entry of `censorings` (positive integers); absent: one each. */
  censoringCounts?: Float64Array;
};

export type EventTable = {
  /** Distinct times (merged near-equal times take the smallest), ascending. */
  time: Float64Array;
  /** Number with time >= time[j]. */
  nRisk: Float64Array;
  nEvent: Float64Array;
  nCensor: Float64Array;
  /** Number of subjects. */
  n: number;
};

/** Per group counts at the distinct times of the pooled data (for the log-rank test and Cox). */
export type GroupedEventTable = {
  time: Float64Array;
  /** [group][j] */
  nRisk: Float64Array[];
  nEvent: Float64Array[];
  nCensor: Float64Array[];
  n: number[];
};

/**
 * Builds a sample from unsorted times and statuses (copies, then sorts natively); with `counts`,
 * entry i stands for counts[i] identical subjects (validated by the caller).
 */
export function sortedSample(
  times: ArrayLike<number>,
  events: ArrayLike<number>,
  counts?: ArrayLike<number>,
): SortedSample {
  if (counts) return countedSample(times, events, counts);
  let nd = 0;
  for (let i = 0; i < events.length; i++) if (events[i] === 1) nd++;
  const deaths = new Float64Array(nd);
  const censorings = new Float64Array(times.length - nd);
  let di = 0;
  let ci = 0;
  for (let i = 0; i < times.length; i++) {
    if (events[i] === 1) deaths[di++] = times[i]!;
    else censorings[ci++] = times[i]!;
  }
  deaths.sort();
  censorings.sort();
  return { deaths, censorings };
}

function countedSample(
  times: ArrayLike<number>,
  events: ArrayLike<number>,
  counts: ArrayLike<number>,
): SortedSample {
  let nd = 0;
  for (let i = 0; i < events.length; i++) if (events[i] === 1) nd++;
  const deaths = new Float64Array(nd);
  const deathCounts = new Float64Array(nd);
  const censorings = new Float64Array(times.length - nd);
  const censoringCounts = new Float64Array(times.length - nd);
  let di = 0;
  let ci = 0;
  for (let i = 0; i < times.length; i++) {
    if (events[i] === 1) {
      deathCounts[di] = counts[i]!;
      deaths[di++] = times[i]!;
    } else {
      censoringCounts[ci] = counts[i]!;
      censorings[ci++] = times[i]!;
    }
  }
  return countedFromEntries(deaths, deathCounts, censorings, censoringCounts);
}

/** A counted sample from unsorted entries and their counts: sorted, one entry per distinct time. */
export function countedFromEntries(
  deaths: Float64Array,
  deathCounts: Float64Array,
  censorings: Float64Array,
  censoringCounts: Float64Array,
): SortedSample {
  const d = sortCounted(deaths, deathCounts);
  const c = sortCounted(censorings, censoringCounts);
  return { deaths: d.times, deathCounts: d.counts, censorings: c.times, censoringCounts: c.counts };
}

/** Number of subjects in a sample (counted or not). */
export function sampleSize(sample: SortedSample): number {
  return (
    subjectCount(sample.deaths, sample.deathCounts) + subjectCount(sample.censorings, sample.censoringCounts)
  );
}

/** Concatenates samples and sorts once (the pooled data). */
export function pooledSample(samples: readonly SortedSample[]): SortedSample {
  if (samples.some((s) => s.deathCounts || s.censoringCounts)) return pooledCountedSample(samples);
  const concat = (parts: Float64Array[]): Float64Array => {
    const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out.sort();
  };
  return {
    deaths: concat(samples.map((s) => s.deaths)),
    censorings: concat(samples.map((s) => s.censorings)),
  };
}

/** `pooledSample` when any sample is counted (an uncounted one counts 1 per entry). */
function pooledCountedSample(samples: readonly SortedSample[]): SortedSample {
  // The samples are sorted: merged, their entries give what sorting them together gives.
  // The censorings are merged only if the deaths could be: otherwise both are sorted below.
  const deaths = mergeCounted(samples.map((s) => ({ times: s.deaths, counts: s.deathCounts })));
  const censorings =
    deaths && mergeCounted(samples.map((s) => ({ times: s.censorings, counts: s.censoringCounts })));
  if (deaths && censorings)
    return {
      deaths: deaths.times,
      deathCounts: deaths.counts,
      censorings: censorings.times,
      censoringCounts: censorings.counts,
    };
  const concat = (times: Float64Array[], counts: (Float64Array | undefined)[]) => {
    const total = times.reduce((s, p) => s + p.length, 0);
    const outTimes = new Float64Array(total);
    const outCounts = new Float64Array(total);
    let offset = 0;
    times.forEach((p, g) => {
      outTimes.set(p, offset);
      const c = counts[g];
      if (c) outCounts.set(c, offset);
      else outCounts.fill(1, offset, offset + p.length);
      offset += p.length;
    });
    return { times: outTimes, counts: outCounts };
  };
  const d = concat(
    samples.map((s) => s.deaths),
    samples.map((s) => s.deathCounts),
  );
  const c = concat(
    samples.map((s) => s.censorings),
    samples.map((s) => s.censoringCounts),
  );
  return countedFromEntries(d.times, d.counts, c.times, c.counts);
}

/** Sorted distinct values of the union of two sorted arrays. */
function distinctUnion(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length || j < b.length) {
    let v: number;
    if (j >= b.length || (i < a.length && a[i]! <= b[j]!)) v = a[i++]!;
    else v = b[j++]!;
    if (k === 0 || out[k - 1]! !== v) out[k++] = v;
  }
  return out.subarray(0, k);
}

/**
 * Adds 1 (or weights[i]) to counts[j] for each sorted time, where j is the last cut <= time
 * (findInterval).
 */
function countAtCuts(
  cuts: Float64Array,
  sortedTimes: Float64Array,
  counts: Float64Array,
  weights: Float64Array | undefined,
): void {
  let j = 0;
  const last = cuts.length - 1;
  if (weights) {
    for (let i = 0; i < sortedTimes.length; i++) {
      const t = sortedTimes[i]!;
      while (j < last && cuts[j + 1]! <= t) j++;
      counts[j]! += weights[i]!;
    }
    return;
  }
  for (let i = 0; i < sortedTimes.length; i++) {
    const t = sortedTimes[i]!;
    while (j < last && cuts[j + 1]! <= t) j++;
    counts[j]! += 1;
  }
}

function riskFromCounts(nEvent: Float64Array, nCensor: Float64Array, n: number): Float64Array {
  const nRisk = new Float64Array(nEvent.length);
  let atRisk = n;
  for (let j = 0; j < nEvent.length; j++) {
    nRisk[j] = atRisk;
    atRisk -= nEvent[j]! + nCensor[j]!;
  }
  return nRisk;
}

/** The distinct merged times of a set of samples (their near-equal times merged together). */
export function mergedTimes(sample: SortedSample): Float64Array {
  return mergeNearEqualInPlace(distinctUnion(sample.deaths, sample.censorings));
}

export function eventTable(sample: SortedSample): EventTable {
  const time = mergedTimes(sample);
  const nEvent = new Float64Array(time.length);
  const nCensor = new Float64Array(time.length);
  if (time.length > 0) {
    countAtCuts(time, sample.deaths, nEvent, sample.deathCounts);
    countAtCuts(time, sample.censorings, nCensor, sample.censoringCounts);
  }
  const n = sampleSize(sample);
  return { time, nRisk: riskFromCounts(nEvent, nCensor, n), nEvent, nCensor, n };
}

/**
 * Per group counts at the merged distinct times of the pooled data. `pooled` is the pooled sample
 * of `groups` (passed in so it is sorted only once).
 */
export function groupedEventTable(groups: readonly SortedSample[], pooled: SortedSample): GroupedEventTable {
  const time = mergedTimes(pooled);
  const out: GroupedEventTable = { time, nRisk: [], nEvent: [], nCensor: [], n: [] };
  for (const g of groups) {
    const nEvent = new Float64Array(time.length);
    const nCensor = new Float64Array(time.length);
    if (time.length > 0) {
      countAtCuts(time, g.deaths, nEvent, g.deathCounts);
      countAtCuts(time, g.censorings, nCensor, g.censoringCounts);
    }
    const n = sampleSize(g);
    out.nEvent.push(nEvent);
    out.nCensor.push(nCensor);
    out.nRisk.push(riskFromCounts(nEvent, nCensor, n));
    out.n.push(n);
  }
  return out;
}

/** The pooled table of a grouped table (sums over groups). */
export function pooledEventTable(grouped: GroupedEventTable): EventTable {
  const m = grouped.time.length;
  const nEvent = new Float64Array(m);
  const nCensor = new Float64Array(m);
  for (let g = 0; g < grouped.nEvent.length; g++) {
    const e = grouped.nEvent[g]!;
    const c = grouped.nCensor[g]!;
    for (let j = 0; j < m; j++) {
      nEvent[j]! += e[j]!;
      nCensor[j]! += c[j]!;
    }
  }
  const n = grouped.n.reduce((s, x) => s + x, 0);
  return { time: grouped.time, nRisk: riskFromCounts(nEvent, nCensor, n), nEvent, nCensor, n };
}
