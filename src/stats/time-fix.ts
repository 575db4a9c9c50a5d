/**
 * R's `aeqSurv` (survival's `timefix = TRUE` default): sorted distinct times whose gap is at most
 * sqrt(.Machine$double.eps), absolutely or relative to the mean absolute distinct time, are one
 * time, the smallest of the run. Without it 0.1 + 0.2 and 0.3 would be two death times.
 */

export const TIME_TOLERANCE = Math.sqrt(2 ** -52);

/**
 * Given the sorted distinct times of one data set, the "cut" times: the first time of every run of
 * near-equal times. Every time maps to the largest cut <= it (R's findInterval).
 */
export function nearEqualTimeCuts(distinctSorted: Float64Array): Float64Array {
  return mergeNearEqualInPlace(distinctSorted.slice());
}

/**
 * The same, overwriting `times` (sorted, distinct) with its cuts; returns a view of the prefix.
 * Safe in place: cut number c is written at index c <= the index being read.
 */
export function mergeNearEqualInPlace(times: Float64Array): Float64Array {
  const m = times.length;
  if (m < 2) return times;
  let sumAbs = 0;
  for (let i = 0; i < m; i++) sumAbs += Math.abs(times[i]!);
  const meanAbs = sumAbs / m;
  let previous = times[0]!;
  let nCuts = 1;
  for (let i = 1; i < m; i++) {
    const t = times[i]!;
    const gap = t - previous;
    previous = t;
    const tied = gap <= TIME_TOLERANCE || gap / meanAbs <= TIME_TOLERANCE;
    if (!tied) times[nCuts++] = t;
  }
  return nCuts === m ? times : times.subarray(0, nCuts);
}
