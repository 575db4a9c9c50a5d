/** Loads the R reference fixtures and compares figures the way their README says. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parseSurvivalCsv } from '../../../src/io/survival-csv.js';
import type { SurvivalRow } from '../../../src/stats/index.js';

export const REFERENCE_DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'r-reference');

type Num = number | null;
type Bound = { time: number; in_range: boolean; n_risk: number; n_event_cum: number; surv: number } & {
  [k in
    | 'std_err'
    | 'lower95'
    | 'upper95'
    | 'lower95_loglog'
    | 'upper95_loglog'
    | 'lower95_plain'
    | 'upper95_plain']: Num;
};
type Rmst = { tau: number; rmean: number; se: Num };
export type ExpectedGroup = {
  n: number;
  events: number;
  censored: number;
  survival_at: Bound[];
  at_risk: { time: number[]; n_risk: number[]; n_event_cum: number[]; surv: number[] };
  rmst: Rmst;
  rmst_common: Rmst;
  curve: { time: number[]; n_risk: number[]; n_event: number[]; n_censor: number[] } & {
    [k in
      | 'surv'
      | 'std_err'
      | 'std_err_cumhaz'
      | 'lower'
      | 'upper'
      | 'lower_loglog'
      | 'upper_loglog'
      | 'lower_plain'
      | 'upper_plain']: Num[];
  };
} & {
  [k in
    | 'median'
    | 'median_lower95'
    | 'median_upper95'
    | 'median_lower95_loglog'
    | 'median_upper95_loglog'
    | 'median_lower95_plain'
    | 'median_upper95_plain'
    | 'followup_median_reverse_km'
    | 'followup_median_reverse_km_lower95'
    | 'followup_median_reverse_km_upper95']: Num;
};
type Test = { chisq: number; df: number; p: number };
export type ExpectedTerm = {
  level: string;
  versus: string;
  coef: number;
  se: Num;
  z: Num;
  hr: Num;
  hr_lower95: Num;
  hr_upper95: Num;
  wald_p: Num;
};
export type Expected = {
  meta: { group_order: string[]; landmark_times: number[]; at_risk_step: number };
  groups: { [label: string]: ExpectedGroup };
  logrank: null | {
    chisq: number;
    df: number;
    p: Num;
    n: number[];
    observed: number[];
    expected: number[];
    o_minus_e: number[];
    var_diag: number[];
  };
  cox: null | {
    reference: string;
    levels: string[];
    n: number;
    nevent: number;
    loglik_null: number;
    loglik: number;
    lr_test: Test;
    wald_test: Test;
    score_test: Test;
    terms: ExpectedTerm[];
    warnings: string[];
    hr?: Num;
    hr_lower95?: Num;
    hr_upper95?: Num;
    wald_p?: Num;
  };
  warnings: string[];
};

export type ReferenceCase = { name: string; csvPath: string; rows: SurvivalRow[]; expected: Expected };

export function referenceCases(): ReferenceCase[] {
  return readdirSync(REFERENCE_DIR)
    .filter((f) => f.endsWith('.expected.json'))
    .sort()
    .map((f) => {
      const name = f.replace(/\.expected\.json$/, '');
      const csvPath = join(REFERENCE_DIR, `${name}.csv`);
      return {
        name,
        csvPath,
        rows: parseSurvivalCsv(readFileSync(csvPath, 'utf8'), csvPath),
        expected: JSON.parse(readFileSync(join(REFERENCE_DIR, f), 'utf8')),
      };
    });
}

/** null / NaN / +-Inf are "not defined"; both sides must agree on that. */
export function normalize(x: number | null | undefined): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : x;
}

export function expectClose(
  actual: number | null | undefined,
  expected: number | null | undefined,
  rel: number,
  what: string,
) {
  // A missing expected figure is a broken fixture or index, never a pass.
  expect(expected, `${what}: expected value missing`).not.toBeUndefined();
  const a = normalize(actual);
  if (expected === null || expected === undefined || a === null) {
    expect(a, what).toBe(expected);
    return;
  }
  const scale = Math.max(Math.abs(expected), Math.abs(a));
  const ok = a === expected || Math.abs(a - expected) <= rel * scale;
  expect(ok, `${what}: got ${a}, R ${expected} (rel ${Math.abs(a - expected) / scale})`).toBe(true);
}
