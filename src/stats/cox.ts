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

/** The death times of the table (indices into it), found once for all Newton-Raphson iterations. */
type DeathTimes = {
  k: number;
  table: GroupedEventTable;
  /** Indices j of the times with deaths. */
  index: Int32Array;
  /** Total deaths at each of those times. */
  deaths: Float64Array;
};

function deathTimes(table: GroupedEventTable): DeathTimes {
  const k = table.nEvent.length;
  const m = table.time.length;
  let count = 0;
  for (let j = 0; j < m; j++) {
    let d = 0;
    for (let g = 0; g < k; g++) d += table.nEvent[g]![j]!;
    if (d > 0) count++;
  }
  const index = new Int32Array(count);
  const deaths = new Float64Array(count);
  let i = 0;
  for (let j = 0; j < m; j++) {
    let d = 0;
    for (let g = 0; g < k; g++) d += table.nEvent[g]![j]!;
    if (d === 0) continue;
    index[i] = j;
    deaths[i++] = d;
  }
  return { k, table, index, deaths };
}

/** Efron log-likelihood, score and information at beta (covariates centred at `means`). */
function efronDerivatives(data: DeathTimes, beta: readonly number[], means: readonly number[]): Derivatives {
  if (data.k === 2) return efronTwoGroups(data, beta[0]!, means[0]!);
  const k = data.k;
  const p = k - 1;
  // Centred covariate of group g for term q: x[g * p + q].
  const x = new Float64Array(k * p);
  const eta = new Float64Array(k);
  const w = new Float64Array(k);
  for (let g = 0; g < k; g++) {
    let e = 0;
    for (let q = 0; q < p; q++) {
      const v = (g === q + 1 ? 1 : 0) - means[q]!;
      x[g * p + q] = v;
      e += v * beta[q]!;
    }
    eta[g] = coxSafe(e);
    w[g] = Math.exp(eta[g]!);
  }
  let loglik = 0;
  const u = new Float64Array(p);
  const imat = new Float64Array(p * p);
  const s1 = new Float64Array(p);
  const e1 = new Float64Array(p);
  const s2 = new Float64Array(p * p);
  const e2 = new Float64Array(p * p);
  const mean = new Float64Array(p);
  const times = data.deaths.length;
  for (let i = 0; i < times; i++) {
    const deaths = data.deaths[i]!;
    let s0 = 0;
    let e0 = 0;
    s1.fill(0);
    e1.fill(0);
    s2.fill(0);
    e2.fill(0);
    const j = data.index[i]!;
    for (let g = 0; g < k; g++) {
      const r = data.table.nRisk[g]![j]! * w[g]!;
      const d = data.table.nEvent[g]![j]!;
      const dw = d * w[g]!;
      s0 += r;
      e0 += dw;
      loglik += d * eta[g]!;
      for (let q = 0; q < p; q++) {
        const xq = x[g * p + q]!;
        s1[q]! += r * xq;
        e1[q]! += dw * xq;
        u[q]! += d * xq;
        for (let v = 0; v < p; v++) {
          const xx = xq * x[g * p + v]!;
          s2[q * p + v]! += r * xx;
          e2[q * p + v]! += dw * xx;
        }
      }
    }
    for (let l = 0; l < deaths; l++) {
      const a = l / deaths;
      const d0 = s0 - a * e0;
      loglik -= Math.log(d0);
      for (let q = 0; q < p; q++) {
        mean[q] = (s1[q]! - a * e1[q]!) / d0;
        u[q]! -= mean[q]!;
      }
      for (let q = 0; q < p; q++) {
        for (let v = 0; v < p; v++) {
          imat[q * p + v]! += (s2[q * p + v]! - a * e2[q * p + v]!) / d0 - mean[q]! * mean[v]!;
        }
      }
    }
  }
  return {
    loglik,
    u: Array.from(u),
    imat: Array.from({ length: p }, (_, q) => Array.from(imat.subarray(q * p, (q + 1) * p))),
  };
}

/** The same computation for one covariate (two groups), in scalars: the common case, and 1M rows. */
function efronTwoGroups(data: DeathTimes, beta: number, mean: number): Derivatives {
  const x0 = -mean;
  const x1 = 1 - mean;
  const eta0 = coxSafe(x0 * beta);
  const eta1 = coxSafe(x1 * beta);
  const w0 = Math.exp(eta0);
  const w1 = Math.exp(eta1);
  const { index, deaths } = data;
  const [risk0, risk1] = data.table.nRisk as [Float64Array, Float64Array];
  const [event0, event1] = data.table.nEvent as [Float64Array, Float64Array];
  let loglik = 0;
  let u = 0;
  let imat = 0;
  for (let i = 0; i < deaths.length; i++) {
    const j = index[i]!;
    const r0 = risk0[j]! * w0;
    const r1 = risk1[j]! * w1;
    const d0 = event0[j]!;
    const d1 = event1[j]!;
    const dw0 = d0 * w0;
    const dw1 = d1 * w1;
    const s0 = r0 + r1;
    const e0 = dw0 + dw1;
    const s1 = r0 * x0 + r1 * x1;
    const e1 = dw0 * x0 + dw1 * x1;
    const s2 = r0 * x0 * x0 + r1 * x1 * x1;
    const e2 = dw0 * x0 * x0 + dw1 * x1 * x1;
    loglik += d0 * eta0 + d1 * eta1;
    u += d0 * x0 + d1 * x1;
    const dead = deaths[i]!;
    for (let l = 0; l < dead; l++) {
      const a = l / dead;
      const denom = s0 - a * e0;
      const m = (s1 - a * e1) / denom;
      loglik -= Math.log(denom);
      u -= m;
      imat += (s2 - a * e2) / denom - m * m;
    }
  }
  return { loglik, u: [u], imat: [[imat]] };
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

  const data = deathTimes(table);
  let beta = new Array<number>(p).fill(0);
  const start = efronDerivatives(data, beta, means);
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
    current = efronDerivatives(data, newBeta, means);
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
