import type { CoxComparison } from '../stats/types.js';

/**
 * How numbers are written in figures and tables. Fixed decimals everywhere, so the same run
 * always gives the same characters, and "NR" (not reached) for an undefined median or limit.
 */

const EN_DASH = '\u2013';

export function formatFixed(value: number, digits: number): string {
  const text = value.toFixed(digits);
  // -0.00 and 0.00 are the same number; print it once.
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
}

/** Months with one decimal; `null` (never reached) as NR. */
export function formatMonths(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? 'NR' : formatFixed(value, 1);
}

/** "31.5 (20.1–NR)": a median and its 95% CI in months. */
export function formatMedianWithCi(
  median: number | null,
  lower: number | null,
  upper: number | null,
): string {
  return `${formatMonths(median)} (${formatMonths(lower)}${EN_DASH}${formatMonths(upper)})`;
}

/** A p value as journals print it: "p = 0.012", "p < 0.001", "p > 0.999". */
export function formatPValue(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return 'p not estimable';
  if (p < 0.001) return 'p < 0.001';
  const text = formatFixed(p, 3);
  return text === '1.000' ? 'p > 0.999' : `p = ${text}`;
}

/** A probability with two decimals, "NA" when undefined. */
export function formatProbability(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? 'NA' : formatFixed(value, 2);
}

/** "0.72 (0.55–0.84)": S(t) with its 95% CI. */
export function formatProbabilityWithCi(
  value: number | null | undefined,
  lower: number | null | undefined,
  upper: number | null | undefined,
): string {
  return `${formatProbability(value)} (${formatProbability(lower)}${EN_DASH}${formatProbability(upper)})`;
}

function formatRatio(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return 'NA';
  return formatFixed(value, 2);
}

/** "HR yes vs no 0.45 (95% CI 0.25–0.80)": the Cox hazard ratio of `group` versus `reference`. */
export function formatHazardRatio(cox: CoxComparison): string {
  const ci = `95% CI ${formatRatio(cox.lower)}${EN_DASH}${formatRatio(cox.upper)}`;
  return `HR ${cox.group} vs ${cox.reference} ${formatRatio(cox.hr)} (${ci})`;
}
