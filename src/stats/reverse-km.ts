/**
 * Median follow-up by the reverse Kaplan-Meier method: the median of
 * `survfit(Surv(time, 1 - event) ~ 1)` (censorings are the events) with its log CI, computed in one
 * streaming pass (no curve arrays). Equal to `median(reverseKaplanMeier(table), log bands)`.
 */
import { bandInto } from './confidence-bands.js';
import { normalCriticalValue } from './distributions.js';
import type { EventTable } from './event-table.js';
import { CrossingFinder, type QuantileEstimate } from './quantiles.js';

export function medianFollowUp(table: EventTable, confLevel = 0.95): QuantileEstimate {
  const z = normalCriticalValue(confLevel);
  const est = new CrossingFinder(0.5);
  const lower = new CrossingFinder(0.5);
  const upper = new CrossingFinder(0.5);
  const band = new Float64Array(2);
  let s = 1;
  let greenwood = 0;
  for (let j = 0; j < table.time.length; j++) {
    const d = table.nCensor[j]!;
    if (d > 0) {
      const n = table.nRisk[j]!;
      s *= (n - d) / n;
      greenwood += n > d ? d / (n * (n - d)) : Number.POSITIVE_INFINITY;
    }
    const t = table.time[j]!;
    bandInto(band, s, Math.sqrt(greenwood), 'log', z);
    est.feed(s, t);
    lower.feed(band[0]!, t);
    upper.feed(band[1]!, t);
  }
  return { quantile: est.value, lower: lower.value, upper: upper.value };
}
