/**
 * Survival at given times as `summary(fit, times = ..., extend = TRUE)` reports it: S and its
 * bands are those of the last curve time <= t (1 before the first time); the number at risk is the
 * number with time >= t (0 after the last time, where R carries S forward); deaths up to t count.
 */
import type { Bands } from './confidence-bands.js';
import { type KaplanMeierFit, lastIndexAtOrBefore } from './kaplan-meier.js';

export type SurvivalEstimateAt = {
  time: number;
  surv: number;
  /** SE of S (Greenwood); NaN where S = 0. */
  stdErr: number;
  lower: number;
  upper: number;
  nRisk: number;
  /** Deaths with time <= t. */
  nEventCum: number;
  /** False when t is after the last curve time. */
  inRange: boolean;
};

/** Number with time >= t. */
export function numberAtRisk(fit: KaplanMeierFit, t: number): number {
  const last = lastIndexAtOrBefore(fit.time, t);
  if (last >= 0 && fit.time[last] === t) return fit.nRisk[last]!;
  const next = last + 1;
  return next < fit.time.length ? fit.nRisk[next]! : 0;
}

/** Cumulative deaths up to each curve time (prefix sums, for repeated look-ups). */
export function cumulativeEvents(fit: KaplanMeierFit): Float64Array {
  const out = new Float64Array(fit.time.length);
  let acc = 0;
  for (let j = 0; j < out.length; j++) {
    acc += fit.nEvent[j]!;
    out[j] = acc;
  }
  return out;
}

export function survivalAt(
  fit: KaplanMeierFit,
  bands: Bands,
  times: readonly number[],
  cumEvents: Float64Array = cumulativeEvents(fit),
): SurvivalEstimateAt[] {
  const m = fit.time.length;
  const lastTime = m > 0 ? fit.time[m - 1]! : Number.NEGATIVE_INFINITY;
  return times.map((t) => {
    const j = lastIndexAtOrBefore(fit.time, t);
    const base = { time: t, nRisk: numberAtRisk(fit, t), inRange: t <= lastTime };
    if (j < 0) return { ...base, surv: 1, stdErr: 0, lower: 1, upper: 1, nEventCum: 0 };
    const surv = fit.surv[j]!;
    return {
      ...base,
      surv,
      stdErr: fit.stdErrCumHaz[j]! * surv,
      lower: bands.lower[j]!,
      upper: bands.upper[j]!,
      nEventCum: cumEvents[j]!,
    };
  });
}

/** R's `seq(0, to, by = step)`. */
export function timeGrid(to: number, step: number): number[] {
  if (!(step > 0) || !(to >= 0)) return [0];
  const n = Math.floor(to / step + 1e-10);
  return Array.from({ length: n + 1 }, (_, i) => i * step);
}

export type AtRiskEstimate = { time: number; nRisk: number; nEventCum: number; surv: number };

/** Numbers at risk (and deaths so far, S) on a time grid. */
export function atRiskTable(
  fit: KaplanMeierFit,
  grid: readonly number[],
  cumEvents: Float64Array = cumulativeEvents(fit),
): AtRiskEstimate[] {
  return grid.map((t) => {
    const j = lastIndexAtOrBefore(fit.time, t);
    return {
      time: t,
      nRisk: numberAtRisk(fit, t),
      nEventCum: j < 0 ? 0 : cumEvents[j]!,
      surv: j < 0 ? 1 : fit.surv[j]!,
    };
  });
}
