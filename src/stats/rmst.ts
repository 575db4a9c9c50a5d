/**
 * Restricted mean survival time as `summary(fit, rmean = tau)$table` (survival's `survmean`):
 * the area under the KM step curve from 0 to tau (S extended past the last time), and
 * se = sqrt(sum_j A_j^2 d_j / (n_j (n_j - d_j))) with A_j the area from t_j to tau; terms with
 * n_j = d_j count 0. Summed from tau backwards, as R's cumsum(rev(...)) does.
 */
import type { KaplanMeierFit } from './kaplan-meier.js';

export type RmstEstimate = { tau: number; estimate: number; stdErr: number };

export function restrictedMean(fit: KaplanMeierFit, tau: number): RmstEstimate {
  const { time, surv, nRisk, nEvent } = fit;
  // Curve times in (0, tau]: R keeps time <= tau.
  let k = 0;
  while (k < time.length && time[k]! <= tau) k++;
  // Rectangle i (i = 0..k): from the previous curve time (0 for i = 0) to time[i] (tau for i = k),
  // at the height of S before time[i] (1 for i = 0). Computed where needed: no array per curve.
  const rect = (i: number): number => {
    const from = i === 0 ? 0 : time[i - 1]!;
    const to = i === k ? tau : time[i]!;
    return (to - from) * (i === 0 ? 1 : surv[i - 1]!);
  };
  let estimate = 0;
  for (let i = 0; i <= k; i++) estimate += rect(i);
  let area = 0;
  let variance = 0;
  for (let i = k - 1; i >= 0; i--) {
    area += rect(i + 1);
    const n = nRisk[i]!;
    const d = nEvent[i]!;
    const h = n - d === 0 ? 0 : d / (n * (n - d));
    variance += area * area * h;
  }
  return { tau, estimate, stdErr: Math.sqrt(variance) };
}
