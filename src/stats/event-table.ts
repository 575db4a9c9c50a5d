/**
 * The aggregated event table every estimator works from: per distinct time (after R's near-equal
 * time merging), the number of deaths and censorings, for one data set or for several groups at
 * the times of the pooled data. Built from sorted typed arrays in linear passes: no per-row object.
 */
import { mergeNearEqualInPlace } from './time-fix.js';

/** One data set's follow-up, split by status and each sorted ascending. */
export type SortedSample = {
  /** Times of deaths (event = 1), ascending. */
  deaths: Float64Array;
  /** Times of censorings (event = 0), ascending. */
  censorings: Float64Array;
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

/** Builds a sample from unsorted times and statuses (copies, then sorts natively). */
export function sortedSample(times: ArrayLike<number>, events: ArrayLike<number>): SortedSample {
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

/** Concatenates samples and sorts once (the pooled data). */
export function pooledSample(samples: readonly SortedSample[]): SortedSample {
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

/** Adds 1 to counts[j] for each sorted time, where j is the last cut <= time (findInterval). */
function countAtCuts(cuts: Float64Array, sortedTimes: Float64Array, counts: Float64Array): void {
  let j = 0;
  const last = cuts.length - 1;
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
    countAtCuts(time, sample.deaths, nEvent);
    countAtCuts(time, sample.censorings, nCensor);
  }
  const n = sample.deaths.length + sample.censorings.length;
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
      countAtCuts(time, g.deaths, nEvent);
      countAtCuts(time, g.censorings, nCensor);
    }
    const n = g.deaths.length + g.censorings.length;
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
