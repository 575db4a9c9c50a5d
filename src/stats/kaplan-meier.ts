/**
 * The Kaplan-Meier estimator as `survfit(Surv(time, event) ~ 1)` computes it: one step per
 * distinct time (deaths and censorings), deaths before censorings at a tied time (the censored are
 * in the risk set), S updated as S * (n - d) / n, and the Greenwood variance of -log S summed in
 * time order.
 */
import type { EventTable } from './event-table.js';

export type KaplanMeierFit = EventTable & {
  surv: Float64Array;
  /** SE of -log S (R's `survfit()$std.err`): sqrt(sum d / (n (n - d))); Infinity once S = 0. */
  stdErrCumHaz: Float64Array;
};

export function kaplanMeier(table: EventTable): KaplanMeierFit {
  const m = table.time.length;
  const surv = new Float64Array(m);
  const stdErrCumHaz = new Float64Array(m);
  let s = 1;
  let greenwood = 0;
  for (let j = 0; j < m; j++) {
    const d = table.nEvent[j]!;
    if (d > 0) {
      const n = table.nRisk[j]!;
      s *= (n - d) / n;
      greenwood += n > d ? d / (n * (n - d)) : Number.POSITIVE_INFINITY;
    }
    surv[j] = s;
    stdErrCumHaz[j] = Math.sqrt(greenwood);
  }
  return { ...table, surv, stdErrCumHaz };
}

/** SE of S itself (R's `summary(fit)$std.err`): S * SE(-log S); NaN where S = 0. */
export function survivalStdErr(surv: number, stdErrCumHaz: number): number {
  return stdErrCumHaz * surv;
}

/** Index of the last curve time <= t, or -1 when t is before the first time. */
export function lastIndexAtOrBefore(time: Float64Array, t: number): number {
  let lo = 0;
  let hi = time.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (time[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * The reverse Kaplan-Meier fit (censorings are the events): `survfit(Surv(time, 1 - event) ~ 1)`,
 * whose median is the median follow-up.
 */
export function reverseKaplanMeier(table: EventTable): KaplanMeierFit {
  return kaplanMeier({ ...table, nEvent: table.nCensor, nCensor: table.nEvent });
}
