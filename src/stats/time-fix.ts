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
  const m = distinctSorted.length;
  if (m < 2) return distinctSorted.slice();
  let sumAbs = 0;
  for (let i = 0; i < m; i++) sumAbs += Math.abs(distinctSorted[i]!);
  const meanAbs = sumAbs / m;
  const cuts = new Float64Array(m);
  cuts[0] = distinctSorted[0]!;
  let nCuts = 1;
  for (let i = 1; i < m; i++) {
    const gap = distinctSorted[i]! - distinctSorted[i - 1]!;
    const tied = gap <= TIME_TOLERANCE || gap / meanAbs <= TIME_TOLERANCE;
    if (!tied) cuts[nCuts++] = distinctSorted[i]!;
  }
  return nCuts === m ? cuts : cuts.slice(0, nCuts);
}
