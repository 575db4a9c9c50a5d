/**
 * Distribution functions, delegated to stdlib-js (https://stdlib.io) rather than hand-written
 * approximations: `gammainc` gives the regularized *upper* incomplete gamma function directly, so a
 * chi-square upper tail p-value keeps full relative precision even when it is tiny (no 1 - CDF
 * cancellation); `erfc` does the same for two-sided normal p-values; the normal quantile gives z.
 */
import erfc from '@stdlib/math-base-special-erfc';
import gammainc from '@stdlib/math-base-special-gammainc';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';

/** P(X > x) for X ~ chi-square(df): R's `pchisq(x, df, lower.tail = FALSE)`. */
export function chiSquareUpperTail(x: number, df: number): number {
  if (!(df > 0) || Number.isNaN(x)) return Number.NaN;
  if (x <= 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  return gammainc(x / 2, df / 2, true, true);
}

/** Two-sided p-value of a standard normal statistic: `2 * pnorm(-|z|)`. */
export function twoSidedNormalP(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  return erfc(Math.abs(z) / Math.SQRT2);
}

/** z such that P(|Z| <= z) = level: `qnorm(1 - (1 - level) / 2)`. */
export function normalCriticalValue(level: number): number {
  return normalQuantile(1 - (1 - level) / 2, 0, 1);
}
