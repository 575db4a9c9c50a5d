/**
 * The log-rank test across k groups, as `survdiff(Surv(time, event) ~ group)` (rho = 0):
 * observed and expected deaths per group, the hypergeometric variance matrix, chi-square from the
 * groups with expected > 0 (the first of them dropped), df = (groups with expected > 0) - 1.
 */
import { chiSquareUpperTail } from './distributions.js';
import type { GroupedEventTable } from './event-table.js';
import { solve } from './linear-algebra.js';

export type LogRankResult = {
  chisq: number;
  df: number;
  /** NaN when df < 1 or the variance matrix is singular. */
  p: number;
  /** True when the variance matrix of the compared groups is singular (no test possible). */
  singular: boolean;
  n: number[];
  observed: number[];
  expected: number[];
  /** Variance matrix of observed - expected. */
  variance: number[][];
};

export function logRankTest(table: GroupedEventTable): LogRankResult {
  const k = table.nEvent.length;
  const m = table.time.length;
  const observed = new Array<number>(k).fill(0);
  const expected = new Array<number>(k).fill(0);
  const variance = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const risk = new Float64Array(k);
  for (let j = 0; j < m; j++) {
    let n = 0;
    let d = 0;
    for (let g = 0; g < k; g++) {
      risk[g] = table.nRisk[g]![j]!;
      n += risk[g]!;
      d += table.nEvent[g]![j]!;
    }
    if (d === 0) continue;
    const kt = n > 1 ? (d * (n - d)) / (n - 1) : 0;
    for (let g = 0; g < k; g++) {
      const share = risk[g]! / n;
      observed[g]! += table.nEvent[g]![j]!;
      expected[g]! += d * share;
      if (kt === 0) continue;
      const row = variance[g]!;
      for (let h = 0; h < k; h++) {
        row[h]! += kt * share * ((g === h ? 1 : 0) - risk[h]! / n);
      }
    }
  }
  const keep: number[] = [];
  for (let g = 0; g < k; g++) if (expected[g]! > 0) keep.push(g);
  const df = keep.length - 1;
  let chisq = 0;
  let singular = false;
  if (keep.length >= 2) {
    const idx = keep.slice(1);
    const diff = idx.map((g) => observed[g]! - expected[g]!);
    const vv = idx.map((g) => idx.map((h) => variance[g]![h]!));
    const x = solve(vv, diff);
    // A singular variance (e.g. every death at a time where all at risk die) carries no
    // information: R's solve() stops with an error there; we report chi-square 0 with p undefined,
    // as survdiff does when there is nothing to test.
    if (x) chisq = x.reduce((s, xi, i) => s + xi * diff[i]!, 0);
    else singular = true;
  }
  return {
    chisq,
    df,
    p: df >= 1 && !singular ? chiSquareUpperTail(chisq, df) : Number.NaN,
    singular,
    n: table.n.slice(),
    observed,
    expected,
    variance,
  };
}
