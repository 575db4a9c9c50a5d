/**
 * Every field of every R reference case (test/fixtures/r-reference, computed with R's survival
 * 3.5-3): 1e-9 relative for the closed-form figures, 1e-6 for Cox (an iterative fit), null where R
 * gives NA / NaN / Inf.
 */
import { describe, expect, it } from 'vitest';
import {
  analyzeSurvival,
  atRiskTable,
  confidenceBands,
  coxRegression,
  eventTable,
  groupedEventTable,
  kaplanMeier,
  logRankTest,
  median,
  medianFollowUp,
  pooledSample,
  quantileStreaming,
  restrictedMean,
  reverseKaplanMeier,
  type SurvivalRow,
  sortedSample,
  splitByGroup,
  survivalAt,
  timeGrid,
} from '../../src/stats/index.js';
import { expectClose, referenceCases } from './support/reference.js';

const REL = 1e-9;
const COX_REL = 1e-6;

function rowsOf(rows: SurvivalRow[], label: string): SurvivalRow[] {
  return label === 'ALL' ? rows : rows.filter((r) => r.group === label);
}

function fitOf(rows: SurvivalRow[]) {
  const table = eventTable(
    sortedSample(
      rows.map((r) => r.time),
      rows.map((r) => r.event),
    ),
  );
  return kaplanMeier(table);
}

for (const c of referenceCases()) {
  describe(`R reference: ${c.name}`, () => {
    const largest = Math.max(...c.rows.map((r) => r.time));
    const labels = Object.keys(c.expected.groups);

    it('lists the same groups in the same order', () => {
      expect(splitByGroup(c.rows).labels).toEqual(c.expected.meta.group_order);
    });

    for (const label of labels) {
      describe(`group ${label}`, () => {
        const exp = c.expected.groups[label]!;
        const fit = fitOf(rowsOf(c.rows, label));
        const bands = {
          log: confidenceBands(fit, 'log'),
          loglog: confidenceBands(fit, 'log-log'),
          plain: confidenceBands(fit, 'plain'),
        };

        it('counts', () => {
          const events = fit.nEvent.reduce((s, d) => s + d, 0);
          expect(fit.n).toBe(exp.n);
          expect(events).toBe(exp.events);
          expect(fit.n - events).toBe(exp.censored);
        });

        it('median and its CI for log, log-log and plain', () => {
          const log = median(fit, bands.log);
          const loglog = median(fit, bands.loglog);
          const plain = median(fit, bands.plain);
          expectClose(log.quantile, exp.median, REL, 'median');
          expectClose(log.lower, exp.median_lower95, REL, 'median lower (log)');
          expectClose(log.upper, exp.median_upper95, REL, 'median upper (log)');
          expectClose(loglog.quantile, exp.median, REL, 'median (log-log)');
          expectClose(loglog.lower, exp.median_lower95_loglog, REL, 'median lower (log-log)');
          expectClose(loglog.upper, exp.median_upper95_loglog, REL, 'median upper (log-log)');
          expectClose(plain.lower, exp.median_lower95_plain, REL, 'median lower (plain)');
          expectClose(plain.upper, exp.median_upper95_plain, REL, 'median upper (plain)');
          // Without stored band arrays (the engine's path when no curve is wanted): identical.
          expect(quantileStreaming(fit, 0.5, { confType: 'log', confLevel: 0.95 })).toEqual(log);
          expect(quantileStreaming(fit, 0.5, { confType: 'log-log', confLevel: 0.95 })).toEqual(loglog);
          expect(quantileStreaming(fit, 0.5, { confType: 'plain', confLevel: 0.95 })).toEqual(plain);
        });

        it('median follow-up by reverse Kaplan-Meier, with its log CI', () => {
          const reverse = reverseKaplanMeier(fit);
          const fu = median(reverse, confidenceBands(reverse, 'log'));
          expectClose(fu.quantile, exp.followup_median_reverse_km, REL, 'follow-up median');
          expectClose(fu.lower, exp.followup_median_reverse_km_lower95, REL, 'follow-up lower');
          expectClose(fu.upper, exp.followup_median_reverse_km_upper95, REL, 'follow-up upper');
          // The streaming version the engine uses gives the same figures.
          const streamed = medianFollowUp(fit);
          expectClose(streamed.quantile, exp.followup_median_reverse_km, REL, 'streamed follow-up median');
          expectClose(
            streamed.lower,
            exp.followup_median_reverse_km_lower95,
            REL,
            'streamed follow-up lower',
          );
          expectClose(
            streamed.upper,
            exp.followup_median_reverse_km_upper95,
            REL,
            'streamed follow-up upper',
          );
        });

        it('survival at the landmark times, all bands', () => {
          const times = exp.survival_at.map((s) => s.time);
          const log = survivalAt(fit, bands.log, times);
          const loglog = survivalAt(fit, bands.loglog, times);
          const plain = survivalAt(fit, bands.plain, times);
          exp.survival_at.forEach((e, i) => {
            const w = `t=${e.time}`;
            expect(log[i]!.inRange, `${w} in_range`).toBe(e.in_range);
            expect(log[i]!.nRisk, `${w} n_risk`).toBe(e.n_risk);
            expect(log[i]!.nEventCum, `${w} n_event_cum`).toBe(e.n_event_cum);
            expectClose(log[i]!.surv, e.surv, REL, `${w} surv`);
            expectClose(log[i]!.stdErr, e.std_err, REL, `${w} std_err`);
            expectClose(log[i]!.lower, e.lower95, REL, `${w} lower`);
            expectClose(log[i]!.upper, e.upper95, REL, `${w} upper`);
            expectClose(loglog[i]!.lower, e.lower95_loglog, REL, `${w} lower loglog`);
            expectClose(loglog[i]!.upper, e.upper95_loglog, REL, `${w} upper loglog`);
            expectClose(plain[i]!.lower, e.lower95_plain, REL, `${w} lower plain`);
            expectClose(plain[i]!.upper, e.upper95_plain, REL, `${w} upper plain`);
          });
        });

        it('numbers at risk on the 6-unit grid', () => {
          const grid = timeGrid(largest, c.expected.meta.at_risk_step);
          expect(grid).toEqual(exp.at_risk.time);
          const ar = atRiskTable(fit, grid);
          expect(ar.map((a) => a.nRisk)).toEqual(exp.at_risk.n_risk);
          expect(ar.map((a) => a.nEventCum)).toEqual(exp.at_risk.n_event_cum);
          ar.forEach((a, i) => {
            expectClose(a.surv, exp.at_risk.surv[i]!, REL, `at_risk surv ${a.time}`);
          });
        });

        it('restricted mean to the group and to the common horizon', () => {
          const own = restrictedMean(fit, exp.rmst.tau);
          expect(exp.rmst.tau).toBe(fit.time[fit.time.length - 1]);
          expectClose(own.estimate, exp.rmst.rmean, REL, 'rmst');
          expectClose(own.stdErr, exp.rmst.se, REL, 'rmst se');
          expect(exp.rmst_common.tau).toBe(largest);
          const common = restrictedMean(fit, largest);
          expectClose(common.estimate, exp.rmst_common.rmean, REL, 'rmst common');
          expectClose(common.stdErr, exp.rmst_common.se, REL, 'rmst common se');
        });

        it('the whole curve with SEs and all bands', () => {
          const curve = exp.curve;
          expect(Array.from(fit.time)).toEqual(curve.time);
          expect(Array.from(fit.nRisk)).toEqual(curve.n_risk);
          expect(Array.from(fit.nEvent)).toEqual(curve.n_event);
          expect(Array.from(fit.nCensor)).toEqual(curve.n_censor);
          curve.time.forEach((t: number, j: number) => {
            const w = `curve t=${t}`;
            const s = fit.surv[j]!;
            expectClose(s, curve.surv[j], REL, `${w} surv`);
            expectClose(fit.stdErrCumHaz[j]! * s, curve.std_err[j], REL, `${w} std_err`);
            expectClose(fit.stdErrCumHaz[j], curve.std_err_cumhaz[j], REL, `${w} std_err_cumhaz`);
            expectClose(bands.log.lower[j], curve.lower[j], REL, `${w} lower`);
            expectClose(bands.log.upper[j], curve.upper[j], REL, `${w} upper`);
            expectClose(bands.loglog.lower[j], curve.lower_loglog[j], REL, `${w} lower loglog`);
            expectClose(bands.loglog.upper[j], curve.upper_loglog[j], REL, `${w} upper loglog`);
            expectClose(bands.plain.lower[j], curve.lower_plain[j], REL, `${w} lower plain`);
            expectClose(bands.plain.upper[j], curve.upper_plain[j], REL, `${w} upper plain`);
          });
        });
      });
    }

    const { labels: groupLabels, samples } = splitByGroup(c.rows);
    const grouped = groupedEventTable(samples, pooledSample(samples));

    it('log-rank test', () => {
      const lr = c.expected.logrank;
      if (lr === null) {
        expect(groupLabels.length).toBeLessThan(2);
        return;
      }
      const got = logRankTest(grouped);
      expectClose(got.chisq, lr.chisq, REL, 'chisq');
      expect(got.df).toBe(lr.df);
      expectClose(got.p, lr.p, REL, 'p');
      expect(got.n).toEqual(lr.n);
      for (let g = 0; g < got.n.length; g++) {
        expectClose(got.observed[g], lr.observed[g]!, REL, `observed ${g}`);
        expectClose(got.expected[g], lr.expected[g]!, REL, `expected ${g}`);
        expectClose(got.observed[g]! - got.expected[g]!, lr.o_minus_e[g]!, REL, `o-e ${g}`);
        expectClose(got.variance[g]![g], lr.var_diag[g]!, REL, `var ${g}`);
      }
    });

    it('Cox model: every term and the three global tests', () => {
      const cx = c.expected.cox;
      const got = coxRegression(grouped, groupLabels);
      if (cx === null) {
        expect(got).toBeNull();
        return;
      }
      expect(got).not.toBeNull();
      const m = got!;
      expect(m.reference).toBe(cx.reference);
      expect(m.levels).toEqual(cx.levels);
      expect(m.n).toBe(cx.n);
      expect(m.nEvent).toBe(cx.nevent);
      expectClose(m.loglikNull, cx.loglik_null, COX_REL, 'loglik null');
      expectClose(m.loglik, cx.loglik, COX_REL, 'loglik');
      for (const [name, mine, r] of [
        ['lr', m.lrTest, cx.lr_test],
        ['wald', m.waldTest, cx.wald_test],
        ['score', m.scoreTest, cx.score_test],
      ] as const) {
        expectClose(mine.chisq, r.chisq, COX_REL, `${name} chisq`);
        expect(mine.df).toBe(r.df);
        expectClose(mine.p, r.p, COX_REL, `${name} p`);
      }
      expect(m.terms.length).toBe(cx.terms.length);
      cx.terms.forEach((t, i) => {
        const g = m.terms[i]!;
        expect(g.level).toBe(t.level);
        expect(g.versus).toBe(t.versus);
        expectClose(g.coef, t.coef, COX_REL, 'coef');
        expectClose(g.se, t.se, COX_REL, 'se');
        expectClose(g.z, t.z, COX_REL, 'z');
        expectClose(g.hr, t.hr, COX_REL, 'hr');
        expectClose(g.hrLower, t.hr_lower95, COX_REL, 'hr lower');
        expectClose(g.hrUpper, t.hr_upper95, COX_REL, 'hr upper');
        expectClose(g.p, t.wald_p, COX_REL, 'wald p');
      });
      expect(m.warnings).toEqual(cx.warnings);
    });

    it('analyzeSurvival (the km JSON) agrees with the reference', () => {
      const result = analyzeSurvival(c.rows);
      const all = [result.overall, ...result.groups];
      const names = ['ALL', ...result.groups.map((g) => g.group)];
      expect(names).toEqual(labels);
      all.forEach((g, i) => {
        const exp = c.expected.groups[names[i]!]!;
        expect([g.n, g.events, g.censored]).toEqual([exp.n, exp.events, exp.censored]);
        expectClose(g.median, exp.median, REL, 'median');
        expectClose(g.medianLower, exp.median_lower95, REL, 'median lower');
        expectClose(g.medianUpper, exp.median_upper95, REL, 'median upper');
        expectClose(g.followUpMedian, exp.followup_median_reverse_km, REL, 'follow-up');
        expectClose(g.rmst.estimate, exp.rmst_common.rmean, REL, 'rmst');
        expectClose(g.rmst.stdErr, exp.rmst_common.se, REL, 'rmst se');
        expect(g.rmst.tau).toBe(exp.rmst_common.tau);
        g.survival.forEach((s, k) => {
          const e = exp.survival_at[k]!;
          expect([s.time, s.nRisk, s.inRange]).toEqual([e.time, e.n_risk, e.in_range]);
          expectClose(s.surv, e.surv, REL, 'surv');
          expectClose(s.stdErr, e.std_err, REL, 'std err');
          expectClose(s.lower, e.lower95, REL, 'lower');
          expectClose(s.upper, e.upper95, REL, 'upper');
        });
        expect(g.atRisk.map((a) => a.nRisk)).toEqual(exp.at_risk.n_risk);
        expect(g.curve.map((p) => p.time)).toEqual(exp.curve.time);
        g.curve.forEach((p, j) => {
          expectClose(p.stdErr, exp.curve.std_err[j], REL, 'curve std err');
          expectClose(p.lower, exp.curve.lower[j], REL, 'curve lower');
          expectClose(p.upper, exp.curve.upper[j], REL, 'curve upper');
        });
      });
      const lr = c.expected.logrank;
      if (lr) {
        expectClose(result.logRank!.chisq, lr.chisq, REL, 'chisq');
        expect(result.logRank!.df).toBe(lr.df);
        expectClose(result.logRank!.p, lr.p, REL, 'p');
      } else expect(result.logRank).toBeNull();
      const cx = c.expected.cox;
      if (cx && cx.terms.length === 1) {
        expect(result.cox!.reference).toBe(cx.reference);
        expect(result.cox!.group).toBe(cx.terms[0]!.level);
        expectClose(result.cox!.hr, cx.hr, COX_REL, 'hr');
        expectClose(result.cox!.lower, cx.hr_lower95, COX_REL, 'hr lower');
        expectClose(result.cox!.upper, cx.hr_upper95, COX_REL, 'hr upper');
        expectClose(result.cox!.p, cx.wald_p, COX_REL, 'hr p');
      } else expect(result.cox).toBeNull();
    });
  });
}
