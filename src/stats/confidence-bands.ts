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
  const { surv, stdErrCumHaz } = fit;
  const m = surv.length;
  const lower = new Float64Array(m);
  const upper = new Float64Array(m);
  // The same formulas as bandAt, inlined per type: no object per curve point (1M-row curves).
  if (confType === 'log') {
    for (let j = 0; j < m; j++) {
      const s = surv[j]!;
      if (s === 0) {
        lower[j] = Number.NaN;
        upper[j] = Number.NaN;
        continue;
      }
      const w = z * stdErrCumHaz[j]!;
      const logS = Math.log(s);
      lower[j] = Math.exp(logS - w);
      upper[j] = Math.min(Math.exp(logS + w), 1);
    }
  } else {
    for (let j = 0; j < m; j++) {
      const b = bandAt(surv[j]!, stdErrCumHaz[j]!, confType, z);
      lower[j] = b.lower;
      upper[j] = b.upper;
    }
  }
  return { lower, upper, confType, confLevel };
}

/** Where bands come from: stored arrays, or just the spec (then computed at the points needed). */
export type BandSource = Bands | { confType: ConfType; confLevel: number };

/** The band at curve index j, from stored arrays when present, else computed there. */
export function bandAtIndex(
  fit: { surv: Float64Array; stdErrCumHaz: Float64Array },
  source: BandSource,
  j: number,
): Band {
  if ('lower' in source) return { lower: source.lower[j]!, upper: source.upper[j]! };
  return bandAt(fit.surv[j]!, fit.stdErrCumHaz[j]!, source.confType, normalCriticalValue(source.confLevel));
}
