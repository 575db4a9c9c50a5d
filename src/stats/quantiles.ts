/**
 * Quantiles of a Kaplan-Meier curve and their confidence limits, as survival's `survmean`
 * (print.survfit / summary()$table) computes the median: the first curve time where the curve is
 * below the target (1 - p) plus a tolerance of sqrt(.Machine$double.eps); if the curve equals the
 * target there (within the tolerance) and drops below it later, the midpoint between that time and
 * the next time it is lower. The CI limits apply the same rule to the pointwise bands, skipping NA.
 */
import { type BandSource, bandInto } from './confidence-bands.js';
import { normalCriticalValue } from './distributions.js';
import type { KaplanMeierFit } from './kaplan-meier.js';
import { TIME_TOLERANCE } from './time-fix.js';

/** R uses the same tolerance as all.equal: sqrt(.Machine$double.eps). */
export const SURVIVAL_TOLERANCE = TIME_TOLERANCE;

/**
 * The first time `values` reaches `target` (R's `minmin`), NaN when never. NaN values are skipped.
 */
export function firstCrossing(values: Float64Array, time: Float64Array, target: number): number {
  const tol = SURVIVAL_TOLERANCE;
  const m = values.length;
  let first = -1;
  for (let j = 0; j < m; j++) {
    const v = values[j]!;
    if (!Number.isNaN(v) && v < target + tol) {
      first = j;
      break;
    }
  }
  if (first < 0) return Number.NaN;
  const y1 = values[first]!;
  if (Math.abs(y1 - target) < tol) {
    for (let k = first + 1; k < m; k++) {
      const v = values[k]!;
      // Only kept values count (non-NA and below target + tol); any value below y1 qualifies.
      if (!Number.isNaN(v) && v < target + tol && v < y1) return (time[first]! + time[k]!) / 2;
    }
  }
  return time[first]!;
}

export type QuantileEstimate = { quantile: number; lower: number; upper: number };

/**
 * The p-th quantile of the survival time (p = 0.5 is the median) with its CI from `bands` (stored
 * band arrays, or a conf type and level; default log, 0.95). NaN means not reached.
 */
export function quantile(
  fit: KaplanMeierFit,
  p: number,
  bands: BandSource = { confType: 'log', confLevel: 0.95 },
): QuantileEstimate {
  if (!(p > 0 && p < 1)) throw new RangeError(`quantile p must be in (0, 1), got ${p}`);
  if (!('lower' in bands)) return quantileStreaming(fit, p, bands);
  const target = 1 - p;
  return {
    quantile: firstCrossing(fit.surv, fit.time, target),
    lower: firstCrossing(bands.lower, fit.time, target),
    upper: firstCrossing(bands.upper, fit.time, target),
  };
}

export function median(fit: KaplanMeierFit, bands?: BandSource): QuantileEstimate {
  return quantile(fit, 0.5, bands);
}

/**
 * `firstCrossing` fed one value at a time in time order, for curves that are never stored (the
 * reverse Kaplan-Meier of a large sample).
 */
export class CrossingFinder {
  private firstTime = Number.NaN;
  private firstValue = Number.NaN;
  private result = Number.NaN;
  private done = false;

  constructor(private readonly target: number) {}

  feed(value: number, time: number): void {
    if (this.done || Number.isNaN(value) || !(value < this.target + SURVIVAL_TOLERANCE)) return;
    if (Number.isNaN(this.firstValue)) {
      this.firstTime = time;
      this.firstValue = value;
      this.result = time;
      // Not (about) equal to the target: no midpoint can follow.
      if (!(Math.abs(value - this.target) < SURVIVAL_TOLERANCE)) this.done = true;
      return;
    }
    if (value < this.firstValue) {
      this.result = (this.firstTime + time) / 2;
      this.done = true;
    }
  }

  /** The crossing time so far; NaN when not reached. */
  get value(): number {
    return this.result;
  }
}

/**
 * `quantile` without stored band arrays: one pass over the curve computing each band point as it
 * goes (the same figures; used when the curve itself is not wanted).
 */
export function quantileStreaming(
  fit: { time: Float64Array; surv: Float64Array; stdErrCumHaz: Float64Array },
  p: number,
  source: BandSource,
): QuantileEstimate {
  if (!(p > 0 && p < 1)) throw new RangeError(`quantile p must be in (0, 1), got ${p}`);
  const target = 1 - p;
  const z = normalCriticalValue(source.confLevel);
  const est = new CrossingFinder(target);
  const lower = new CrossingFinder(target);
  const upper = new CrossingFinder(target);
  const band = new Float64Array(2);
  for (let j = 0; j < fit.time.length; j++) {
    const t = fit.time[j]!;
    const s = fit.surv[j]!;
    est.feed(s, t);
    bandInto(band, s, fit.stdErrCumHaz[j]!, source.confType, z);
    lower.feed(band[0]!, t);
    upper.feed(band[1]!, t);
  }
  return { quantile: est.value, lower: lower.value, upper: upper.value };
}
