/**
 * Cox proportional-hazards regression on a k-level group factor, as
 * `coxph(Surv(time, event) ~ group, ties = "efron")` fits it (survival's coxfit6): covariates are
 * the k - 1 indicators of the non-reference levels, centred at their means; Newton-Raphson from
 * beta = 0, converged when |1 - loglik_old / loglik_new| <= 1e-9, step-halving when the
 * log-likelihood decreases, at most 20 iterations; the risk score is capped as coxsafe does.
 * Works on aggregated counts per group and time, so its cost does not grow with the rows.
 */
import { chiSquareUpperTail, normalCriticalValue, twoSidedNormalP } from './distributions.js';
import type { GroupedEventTable } from './event-table.js';
import { dot, invert, solve } from './linear-algebra.js';

export type CoxTerm = {
  level: string;
  versus: string;
  coef: number;
  se: number;
  z: number;
  hr: number;
  /** NaN / Infinity mean undefined (R's NA / Inf); the API maps them to null. */
  hrLower: number;
  hrUpper: number;
  p: number;
};

export type ChiSquareTest = { chisq: number; df: number; p: number };

export type CoxModel = {
  reference: string;
  levels: string[];
  n: number;
  nEvent: number;
  terms: CoxTerm[];
  loglikNull: number;
  loglik: number;
  lrTest: ChiSquareTest;
  waldTest: ChiSquareTest;
  scoreTest: ChiSquareTest;
  iterations: number;
  converged: boolean;
  warnings: string[];
};

export type CoxOptions = { confLevel?: number; maxIterations?: number; eps?: number };

/** survival's coxsafe: keeps exp() of the risk score finite. */
function coxSafe(x: number): number {
  if (x < -200) return -200;
  if (x > 22) return 22;
  return x;
}

type Derivatives = { loglik: number; u: number[]; imat: number[][] };

function efronDerivatives(table: GroupedEventTable, beta: readonly number[], means: readonly number[]) {
  const k = table.nEvent.length;
  const p = k - 1;
  // Centred covariate of group g for term q.
  const x = Array.from({ length: k }, (_, g) =>
    Array.from({ length: p }, (_, q) => (g === q + 1 ? 1 : 0) - means[q]!),
  );
  const eta = x.map((row) => coxSafe(dot(row, beta)));
  const w = eta.map((e) => Math.exp(e));
  const out: Derivatives = {
    loglik: 0,
    u: new Array<number>(p).fill(0),
    imat: Array.from({ length: p }, () => new Array<number>(p).fill(0)),
  };
  const s1 = new Array<number>(p);
  const e1 = new Array<number>(p);
  const s2 = Array.from({ length: p }, () => new Array<number>(p));
  const e2 = Array.from({ length: p }, () => new Array<number>(p));
  const mean = new Array<number>(p);
  for (let j = 0; j < table.time.length; j++) {
    let deaths = 0;
    for (let g = 0; g < k; g++) deaths += table.nEvent[g]![j]!;
    if (deaths === 0) continue;
    let s0 = 0;
    let e0 = 0;
    s1.fill(0);
    e1.fill(0);
    for (let q = 0; q < p; q++) {
      s2[q]!.fill(0);
      e2[q]!.fill(0);
    }
    for (let g = 0; g < k; g++) {
      const r = table.nRisk[g]![j]! * w[g]!;
      const d = table.nEvent[g]![j]!;
      const dw = d * w[g]!;
      s0 += r;
      e0 += dw;
      out.loglik += d * eta[g]!;
      const xg = x[g]!;
      for (let q = 0; q < p; q++) {
        s1[q]! += r * xg[q]!;
        e1[q]! += dw * xg[q]!;
        out.u[q]! += d * xg[q]!;
        for (let v = 0; v < p; v++) {
          s2[q]![v]! += r * xg[q]! * xg[v]!;
          e2[q]![v]! += dw * xg[q]! * xg[v]!;
        }
      }
    }
    for (let l = 0; l < deaths; l++) {
      const a = l / deaths;
      const d0 = s0 - a * e0;
      out.loglik -= Math.log(d0);
      for (let q = 0; q < p; q++) {
        mean[q] = (s1[q]! - a * e1[q]!) / d0;
        out.u[q]! -= mean[q]!;
      }
      for (let q = 0; q < p; q++) {
        for (let v = 0; v < p; v++) {
          out.imat[q]![v]! += (s2[q]![v]! - a * e2[q]![v]!) / d0 - mean[q]! * mean[v]!;
        }
      }
    }
  }
  return out;
}

function chiSquareTest(chisq: number, df: number): ChiSquareTest {
  return { chisq, df, p: chiSquareUpperTail(chisq, df) };
}

/** Fits the model; null when there are fewer than two levels or no deaths. */
export function coxRegression(
  table: GroupedEventTable,
  levels: readonly string[],
  options: CoxOptions = {},
): CoxModel | null {
  const k = levels.length;
  const p = k - 1;
  const nTotal = table.n.reduce((s, v) => s + v, 0);
  let nEvent = 0;
  for (const e of table.nEvent) for (let j = 0; j < e.length; j++) nEvent += e[j]!;
  if (k < 2 || nEvent === 0) return null;
  const maxIterations = options.maxIterations ?? 20;
  const eps = options.eps ?? 1e-9;
  const means = Array.from({ length: p }, (_, q) => table.n[q + 1]! / nTotal);

  let beta = new Array<number>(p).fill(0);
  const start = efronDerivatives(table, beta, means);
  const loglikNull = start.loglik;
  const scoreStep = solve(start.imat, start.u);
  const score = scoreStep ? dot(scoreStep, start.u) : Number.NaN;

  let current = start;
  let loglikOld = start.loglik;
  let step = scoreStep ?? new Array<number>(p).fill(0);
  let newBeta = beta.map((b, q) => b + step[q]!);
  let halving = false;
  let converged = false;
  let iterations = 0;
  for (let iter = 1; iter <= maxIterations; iter++) {
    iterations = iter;
    current = efronDerivatives(table, newBeta, means);
    if (Math.abs(1 - loglikOld / current.loglik) <= eps && !halving) {
      converged = true;
      beta = newBeta;
      break;
    }
    if (iter === maxIterations) {
      beta = newBeta;
      break;
    }
    if (current.loglik < loglikOld || !Number.isFinite(current.loglik)) {
      halving = true;
      newBeta = newBeta.map((b, q) => (b + beta[q]!) / 2);
    } else {
      halving = false;
      loglikOld = current.loglik;
      step = solve(current.imat, current.u) ?? new Array<number>(p).fill(0);
      beta = newBeta;
      newBeta = newBeta.map((b, q) => b + step[q]!);
    }
  }
  const loglik = current.loglik;
  const variance = invert(current.imat);
  const z = normalCriticalValue(options.confLevel ?? 0.95);
  const warnings: string[] = [];
  if (!converged) warnings.push('Ran out of iterations and did not converge');
  else if (variance) {
    // R: a coefficient whose remaining Newton step is still large relative to it may be infinite.
    const infs: number[] = [];
    for (let q = 0; q < p; q++) {
      const remaining = Math.abs(dot(current.u, variance[q]!));
      if (remaining > eps && remaining > Math.sqrt(eps) * Math.abs(beta[q]!)) infs.push(q + 1);
    }
    if (infs.length > 0)
      warnings.push(`Loglik converged before variable  ${infs.join(',')} ; coefficient may be infinite. `);
  }
  const terms: CoxTerm[] = beta.map((coef, q) => {
    const se = variance ? Math.sqrt(variance[q]![q]!) : Number.NaN;
    const zStat = coef / se;
    return {
      level: levels[q + 1]!,
      versus: levels[0]!,
      coef,
      se,
      z: zStat,
      hr: Math.exp(coef),
      hrLower: Math.exp(coef - z * se),
      hrUpper: Math.exp(coef + z * se),
      p: twoSidedNormalP(zStat),
    };
  });
  const wald = variance
    ? dot(
        beta,
        current.imat.map((row) => dot(row, beta)),
      )
    : Number.NaN;
  return {
    reference: levels[0]!,
    levels: levels.slice(),
    n: nTotal,
    nEvent,
    terms,
    loglikNull,
    loglik,
    lrTest: chiSquareTest(2 * (loglik - loglikNull), p),
    waldTest: chiSquareTest(wald, p),
    scoreTest: chiSquareTest(score, p),
    iterations,
    converged,
    warnings,
  };
}
