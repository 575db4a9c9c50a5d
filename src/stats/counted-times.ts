/**
 * Times with frequency counts (one entry standing for `count` identical subjects), sorted and
 * aggregated to distinct times. The event table built from them is the one the expanded entries
 * give, bit for bit: the distinct times (and the representative of a run of equal values, e.g. -0
 * before 0) are those of the expanded sort, and the counts are integer sums, exact in doubles.
 */

export type CountedTimes = {
  /** Distinct times, ascending (of equal values, the first in sort order: -0 before 0). */
  times: Float64Array;
  /** Subjects at each time (sum of the counts of its entries). */
  counts: Float64Array;
};

/** Largest total of counts for which every partial sum is an exact integer in a double. */
export const MAX_SUBJECTS = Number.MAX_SAFE_INTEGER;

/**
 * Sorts `times` (copied) natively and sums `counts` per distinct time: a native sort plus one
 * binary search per entry, no comparator callback. Times already in ascending order (a caller
 * that orders its rows by time once, as the recompute does) are summed in one pass instead:
 * the same distinct times and sums, bit for bit (property-tested against the sort).
 */
export function sortCounted(times: Float64Array, counts: Float64Array): CountedTimes {
  return isAscending(times) ? sumAscending(times, counts) : sortThenSum(times, counts);
}

/**
 * Whether sorting would leave `times` as they are: each time above the one before, or the very
 * same value (0 next to -0, which the sort orders, and NaN take the sorting path).
 */
function isAscending(times: Float64Array): boolean {
  if (times.length === 1 && Number.isNaN(times[0])) return false;
  for (let i = 1; i < times.length; i++) {
    const before = times[i - 1] as number;
    const t = times[i] as number;
    if (!(before < t || (before === t && Object.is(before, t)))) return false;
  }
  return true;
}

/** `sortThenSum` for ascending times: runs of equal times summed in order, in one pass. */
function sumAscending(times: Float64Array, counts: Float64Array): CountedTimes {
  let m = 0;
  for (let i = 0; i < times.length; i++) if (i === 0 || times[i - 1] !== times[i]) m++;
  const distinct = new Float64Array(m);
  const summed = new Float64Array(m);
  let j = -1;
  for (let i = 0; i < times.length; i++) {
    const t = times[i] as number;
    if (j < 0 || distinct[j] !== t) distinct[++j] = t;
    summed[j]! += counts[i]!;
  }
  return { times: distinct, counts: summed };
}

/** Exported for tests: the sorting path, whatever the order of `times`. */
export function sortThenSum(times: Float64Array, counts: Float64Array): CountedTimes {
  const sorted = times.slice().sort();
  let m = 0;
  for (let i = 0; i < sorted.length; i++) {
    const t = sorted[i]!;
    // `!==` treats -0 and 0 as one time, as the uncounted path's distinct-time pass does.
    if (m === 0 || sorted[m - 1]! !== t) sorted[m++] = t;
  }
  const distinct = m === sorted.length ? sorted : sorted.slice(0, m);
  const summed = new Float64Array(m);
  for (let i = 0; i < times.length; i++) summed[indexOfTime(distinct, times[i]!)]! += counts[i]!;
  return { times: distinct, counts: summed };
}

/** Index of `t` in the sorted distinct `times` (it is there): the last index with times[j] <= t. */
function indexOfTime(times: Float64Array, t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Sum of the counts, or the number of entries when there are none (one subject each). */
export function subjectCount(times: Float64Array, counts: Float64Array | undefined): number {
  if (!counts) return times.length;
  let n = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i]!;
  return n;
}

/** Times in ascending order with their counts (absent: one subject per entry). */
export type AscendingPart = { times: Float64Array; counts: Float64Array | undefined };

/**
 * `sortCounted` of the parts' entries concatenated, by merging them instead of sorting: the
 * pooled sample of k groups, each already sorted (k-1 comparisons per entry where the sort took
 * a native sort and a binary search per entry, ~10% of a night's statistics, warm). Undefined when
 * a part is not plainly ascending, or holds NaN or -0, whose place the sort alone decides: the
 * caller then sorts.
 */
export function mergeCounted(parts: readonly AscendingPart[]): CountedTimes | undefined {
  let total = 0;
  for (const { times } of parts) {
    for (let i = 0; i < times.length; i++) {
      const t = times[i] as number;
      if (Number.isNaN(t) || Object.is(t, -0) || (i > 0 && !((times[i - 1] as number) <= t)))
        return undefined;
    }
    total += times.length;
  }
  const distinct = new Float64Array(total);
  const summed = new Float64Array(total);
  const next = new Int32Array(parts.length);
  let m = 0;
  for (let taken = 0; taken < total; taken++) {
    // The part whose next time is smallest (the first such part on ties, so equal times are
    // summed in the concatenation's order; the sums are exact integers either way).
    let chosen = -1;
    let smallest = Number.POSITIVE_INFINITY;
    for (let p = 0; p < parts.length; p++) {
      const { times } = parts[p] as AscendingPart;
      const i = next[p] as number;
      if (i < times.length && (chosen < 0 || (times[i] as number) < smallest)) {
        chosen = p;
        smallest = times[i] as number;
      }
    }
    const part = parts[chosen] as AscendingPart;
    const i = next[chosen] as number;
    next[chosen] = i + 1;
    const count = part.counts === undefined ? 1 : (part.counts[i] as number);
    if (m === 0 || distinct[m - 1] !== smallest) {
      distinct[m] = smallest;
      summed[m] = count;
      m++;
    } else summed[m - 1] = (summed[m - 1] as number) + count;
  }
  return { times: distinct.slice(0, m), counts: summed.slice(0, m) };
}
