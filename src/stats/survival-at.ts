/**
 * Survival at given times as `summary(fit, times = ..., extend = TRUE)` reports it: S and its
 * bands are those of the last curve time <= t (1 before the first time); the number at risk is the
 * number with time >= t (0 after the last time, where R carries S forward); deaths up to t count.
 */
import { type BandSource, bandAtIndex } from './confidence-bands.js';
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

/**
 * Deaths up to curve index j, for a few look-ups: sums at the requested indices only, in one
 * forward pass (no array as long as the curve).
 */
export type CumulativeEvents = (j: number) => number;

export function cumulativeEvents(fit: KaplanMeierFit): CumulativeEvents {
  let upTo = -1;
  let acc = 0;
  return (j: number) => {
    if (j < upTo) {
      upTo = -1;
      acc = 0;
    }
    while (upTo < j) acc += fit.nEvent[++upTo]!;
    return acc;
  };
}

export function survivalAt(
  fit: KaplanMeierFit,
  bands: BandSource,
  times: readonly number[],
  cumEvents: CumulativeEvents = cumulativeEvents(fit),
): SurvivalEstimateAt[] {
  const m = fit.time.length;
  const lastTime = m > 0 ? fit.time[m - 1]! : Number.NEGATIVE_INFINITY;
  return times.map((t) => {
    const j = lastIndexAtOrBefore(fit.time, t);
    const base = { time: t, nRisk: numberAtRisk(fit, t), inRange: t <= lastTime };
    if (j < 0) return { ...base, surv: 1, stdErr: 0, lower: 1, upper: 1, nEventCum: 0 };
    const surv = fit.surv[j]!;
    const band = bandAtIndex(fit, bands, j);
    return {
      ...base,
      surv,
      stdErr: fit.stdErrCumHaz[j]! * surv,
      lower: band.lower,
      upper: band.upper,
      nEventCum: cumEvents(j),
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
  cumEvents: CumulativeEvents = cumulativeEvents(fit),
): AtRiskEstimate[] {
  return grid.map((t) => {
    const j = lastIndexAtOrBefore(fit.time, t);
    return {
      time: t,
      nRisk: numberAtRisk(fit, t),
      nEventCum: j < 0 ? 0 : cumEvents(j),
      surv: j < 0 ? 1 : fit.surv[j]!,
    };
  });
}
