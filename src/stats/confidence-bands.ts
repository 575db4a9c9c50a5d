/**
 * Pointwise confidence bands of S(t) as survival's `survfit_confint` computes them. NaN stands
 * for R's NA (a band that is not defined, e.g. the log band where S = 0).
 */
import { normalCriticalValue } from './distributions.js';
import type { ConfType } from './types.js';

export type Band = { lower: number; upper: number };

/** Band at one point, from S and the SE of -log S, with critical value z. */
export function bandAt(surv: number, stdErrCumHaz: number, confType: ConfType, z: number): Band {
  const out = new Float64Array(2);
  bandInto(out, surv, stdErrCumHaz, confType, z);
  return { lower: out[0]!, upper: out[1]! };
}

/**
 * The band at one point written into out[0] (lower) and out[1] (upper): for loops over long
 * curves, with no object per point.
 */
export function bandInto(
  out: Float64Array,
  surv: number,
  stdErrCumHaz: number,
  confType: ConfType,
  z: number,
) {
  const se = stdErrCumHaz;
  switch (confType) {
    case 'plain': {
      const width = se * surv * z;
      // R: pmax(p - w, 0), pmin(p + w, 1); NaN (0 * Inf) stays NaN as in R.
      out[0] = rMax(surv - width, 0);
      out[1] = rMin(surv + width, 1);
      return;
    }
    case 'log': {
      if (surv === 0) {
        out[0] = Number.NaN;
        out[1] = Number.NaN;
        return;
      }
      const w = z * se;
      const logS = Math.log(surv);
      out[0] = Math.exp(logS - w);
      out[1] = rMin(Math.exp(logS + w), 1);
      return;
    }
    case 'log-log': {
      if (surv === 0 || surv === 1) {
        out[0] = Number.NaN;
        out[1] = Number.NaN;
        return;
      }
      const logS = Math.log(surv);
      const w = (z * se) / logS;
      const lll = Math.log(-logS);
      out[0] = Math.exp(-Math.exp(lll - w));
      out[1] = Math.exp(-Math.exp(lll + w));
      return;
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
  const band = new Float64Array(2);
  for (let j = 0; j < m; j++) {
    bandInto(band, surv[j]!, stdErrCumHaz[j]!, confType, z);
    lower[j] = band[0]!;
    upper[j] = band[1]!;
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
