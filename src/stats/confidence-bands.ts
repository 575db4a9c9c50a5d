/**
 * Pointwise confidence bands of S(t) as survival's `survfit_confint` computes them. NaN stands
 * for R's NA (a band that is not defined, e.g. the log band where S = 0).
 */
import { normalCriticalValue } from './distributions.js';
import type { ConfType } from './types.js';

export type Band = { lower: number; upper: number };

/** Band at one point, from S and the SE of -log S, with critical value z. */
export function bandAt(surv: number, stdErrCumHaz: number, confType: ConfType, z: number): Band {
  const se = stdErrCumHaz;
  switch (confType) {
    case 'plain': {
      const width = se * surv * z;
      // R: pmax(p - w, 0), pmin(p + w, 1); NaN (0 * Inf) stays NaN as in R.
      return { lower: rMax(surv - width, 0), upper: rMin(surv + width, 1) };
    }
    case 'log': {
      if (surv === 0) return { lower: Number.NaN, upper: Number.NaN };
      const w = z * se;
      const logS = Math.log(surv);
      return { lower: Math.exp(logS - w), upper: rMin(Math.exp(logS + w), 1) };
    }
    case 'log-log': {
      if (surv === 0 || surv === 1) return { lower: Number.NaN, upper: Number.NaN };
      const logS = Math.log(surv);
      const w = (z * se) / logS;
      const lll = Math.log(-logS);
      return { lower: Math.exp(-Math.exp(lll - w)), upper: Math.exp(-Math.exp(lll + w)) };
    }
  }
}

/** R's pmin/pmax propagate NaN; Math.min/max do too, but keep the intent explicit. */
function rMin(a: number, b: number): number {
  return Number.isNaN(a) ? a : Math.min(a, b);
}
function rMax(a: number, b: number): number {
  return Number.isNaN(a) ? a : Math.max(a, b);
}

export type Bands = { lower: Float64Array; upper: Float64Array; confType: ConfType; confLevel: number };

export function confidenceBands(
  fit: { surv: Float64Array; stdErrCumHaz: Float64Array },
  confType: ConfType = 'log',
  confLevel = 0.95,
): Bands {
  const z = normalCriticalValue(confLevel);
  const m = fit.surv.length;
  const lower = new Float64Array(m);
  const upper = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    const b = bandAt(fit.surv[j]!, fit.stdErrCumHaz[j]!, confType, z);
    lower[j] = b.lower;
    upper[j] = b.upper;
  }
  return { lower, upper, confType, confLevel };
}
