/** Edge cases, with the values R's survival gives for them. */
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import {
  analyzeSurvival,
  analyzeSurvivalColumns,
  confidenceBands,
  coxRegression,
  eventTable,
  groupedEventTable,
  kaplanMeier,
  median,
  nearEqualTimeCuts,
  pooledSample,
  quantile,
  type SurvivalRow,
  sortedSample,
  splitByGroup,
} from '../../src/stats/index.js';

const rowsOf = (group: string, spec: [number, 0 | 1][]): SurvivalRow[] =>
  spec.map(([time, event]) => ({ group, time, event }));

function fitOf(rs: SurvivalRow[]) {
  return kaplanMeier(
    eventTable(
      sortedSample(
        rs.map((r) => r.time),
        rs.map((r) => r.event),
      ),
    ),
  );
}

describe('edge cases', () => {
  it('one patient who dies: median is that time, its log CI undefined (S = 0), SE undefined', () => {
    const r = analyzeSurvival(rowsOf('A', [[5, 1]]));
    const g = r.groups[0]!;
    expect([g.n, g.events, g.censored]).toEqual([1, 1, 0]);
    expect([g.median, g.medianLower, g.medianUpper]).toEqual([5, null, null]);
    expect(g.curve).toEqual([
      { time: 5, nRisk: 1, nEvent: 1, nCensor: 0, surv: 0, stdErr: null, lower: null, upper: null },
    ]);
    expect(r.logRank).toBeNull();
    expect(r.cox).toBeNull();
    expect(g.rmst).toEqual({ tau: 5, estimate: 5, stdErr: 0 });
    expect(g.followUpMedian).toBeNull();
  });

  it('one patient censored: S stays 1, median not reached', () => {
    const g = analyzeSurvival(rowsOf('A', [[3, 0]])).overall;
    expect([g.median, g.medianLower, g.medianUpper]).toEqual([null, null, null]);
    expect(g.curve[0]).toMatchObject({ surv: 1, stdErr: 0, lower: 1, upper: 1 });
    expect(g.survival[0]).toMatchObject({ time: 12, surv: 1, nRisk: 0, inRange: false });
    expect(g.followUpMedian).toBe(3);
  });

  it('all censored in two groups: no log-rank p and no Cox model', () => {
    const r = analyzeSurvival([
      ...rowsOf('A', [
        [1, 0],
        [2, 0],
      ]),
      ...rowsOf('B', [[3, 0]]),
    ]);
    expect(r.logRank).toEqual({ chisq: 0, df: -1, p: null });
    expect(r.cox).toBeNull();
    expect(r.overall.median).toBeNull();
  });

  it('all deaths, no ties: the median is the ordinary sample median; the curve reaches 0', () => {
    const times = [2, 3, 5, 7, 10, 11, 12, 20];
    const g = analyzeSurvival(
      rowsOf(
        'A',
        times.map((t) => [t, 1]),
      ),
    ).overall;
    expect(g.median).toBe(8.5); // S = 0.5 on [7, 10): midpoint
    const last = g.curve[g.curve.length - 1]!;
    expect(last).toMatchObject({ time: 20, surv: 0, stdErr: null, lower: null, upper: null });
    // RMST to the last time with all deaths is the sample mean.
    expect(g.rmst.estimate).toBeCloseTo(times.reduce((s, t) => s + t, 0) / times.length, 12);
  });

  it('S exactly 0.5 at the end (only censorings after): the median is that time, not a midpoint', () => {
    const g = analyzeSurvival(
      rowsOf('A', [
        [1, 1],
        [2, 1],
        [3, 0],
        [4, 0],
      ]),
    ).overall;
    expect(g.curve.map((p) => p.surv)).toEqual([0.75, 0.5, 0.5, 0.5]);
    expect(g.median).toBe(2);
  });

  it('a death at time 0', () => {
    const g = analyzeSurvival(
      rowsOf('A', [
        [0, 1],
        [0, 0],
        [4, 1],
        [6, 0],
      ]),
    ).overall;
    expect(g.curve[0]).toMatchObject({ time: 0, nRisk: 4, nEvent: 1, nCensor: 1, surv: 0.75 });
    expect(g.atRisk[0]).toEqual({ time: 0, nRisk: 4 });
    expect(g.median).toBe(4);
  });

  it('many ties: deaths before censorings at a tied time', () => {
    const rs = [
      ...rowsOf(
        'A',
        Array.from({ length: 100 }, () => [1, 1] as [number, 1]),
      ),
    ];
    rs.push(
      ...rowsOf(
        'A',
        Array.from({ length: 50 }, () => [1, 0] as [number, 0]),
      ),
    );
    rs.push(
      ...rowsOf(
        'A',
        Array.from({ length: 50 }, () => [2, 1] as [number, 1]),
      ),
    );
    const fit = fitOf(rs);
    expect(Array.from(fit.time)).toEqual([1, 2]);
    expect(Array.from(fit.nRisk)).toEqual([200, 50]);
    expect(fit.surv[0]).toBe(0.5); // 100 of 200 die; the 50 censored at 1 were at risk
    expect(fit.surv[1]).toBe(0);
    // Greenwood: 100 / (200 * 100)
    expect(fit.stdErrCumHaz[0]).toBe(Math.sqrt(100 / (200 * 100)));
    expect(median(fit, confidenceBands(fit)).quantile).toBe(1.5);
  });

  it('near-equal times are merged (0.1 + 0.2 and 0.3 are one time, the smaller)', () => {
    const a = 0.1 + 0.2;
    expect(a).not.toBe(0.3);
    expect(Array.from(nearEqualTimeCuts(new Float64Array([0.3, a, 1])))).toEqual([0.3, 1]);
    const fit = fitOf(
      rowsOf('A', [
        [a, 1],
        [0.3, 1],
        [1, 0],
      ]),
    );
    expect(Array.from(fit.time)).toEqual([0.3, 1]);
    expect(Array.from(fit.nEvent)).toEqual([2, 0]);
    // Far-apart times stay apart.
    expect(Array.from(nearEqualTimeCuts(new Float64Array([0.3, 0.3000001])))).toEqual([0.3, 0.3000001]);
  });

  it('a group with no deaths: the Cox coefficient diverges, the infinite bound is null, R warns', () => {
    const rs = [
      ...rowsOf('A', [
        [1, 1],
        [2, 1],
        [3, 1],
        [4, 0],
        [5, 1],
      ]),
      ...rowsOf('B', [
        [1.5, 0],
        [2.5, 0],
        [6, 0],
      ]),
    ];
    const r = analyzeSurvival(rs);
    expect(r.cox!.hr).toBeLessThan(1e-6);
    expect(r.cox!.upper).toBeNull();
    expect(r.cox!.lower).toBe(0);
    const { labels, samples } = splitByGroup(rs);
    const model = coxRegression(groupedEventTable(samples, pooledSample(samples)), labels)!;
    expect(model.warnings).toEqual(['Loglik converged before variable  1 ; coefficient may be infinite. ']);
    expect(model.terms[0]!.coef).toBeLessThan(-10);
  });

  it('other quantiles follow the same rule', () => {
    const fit = fitOf(
      rowsOf(
        'A',
        [2, 3, 5, 7, 10, 11, 12, 20].map((t) => [t, 1]),
      ),
    );
    const bands = confidenceBands(fit);
    expect(quantile(fit, 0.25, bands).quantile).toBe(4); // S = 0.75 on [3, 5)
    expect(quantile(fit, 0.75, bands).quantile).toBe(11.5); // S = 0.25 on [11, 12)
    expect(quantile(fit, 0.1, bands).quantile).toBe(2);
    expect(() => quantile(fit, 1, bands)).toThrow(RangeError);
    // Default bands (log, 0.95) and a conf spec give the same as stored band arrays.
    expect(quantile(fit, 0.25)).toEqual(quantile(fit, 0.25, bands));
    const plain = confidenceBands(fit, 'plain', 0.9);
    expect(quantile(fit, 0.5, { confType: 'plain', confLevel: 0.9 })).toEqual(quantile(fit, 0.5, plain));
  });

  it('rejects invalid rows and options', () => {
    expect(() => analyzeSurvival([])).toThrow(InputError);
    expect(() => analyzeSurvival([{ group: 'A', time: -1, event: 1 }])).toThrow(/row 1: time/);
    expect(() => analyzeSurvival([{ group: 'A', time: Number.NaN, event: 1 }])).toThrow(InputError);
    expect(() => analyzeSurvival([{ group: 'A', time: 1, event: 2 as 1 }])).toThrow(/event must be 0 or 1/);
    expect(() => analyzeSurvival(rowsOf('A', [[1, 1]]), { confLevel: 1 })).toThrow(InputError);
    expect(() => analyzeSurvivalColumns({ group: ['A'], time: [1, 2], event: [1, 0] })).toThrow(
      /columns differ in length/,
    );
    expect(() => analyzeSurvivalColumns({ group: ['A'], time: [1], event: [3] })).toThrow(
      /event must be 0 or 1/,
    );
  });

  it('options: conf level, times, at-risk step, RMST tau', () => {
    const rs = rowsOf(
      'A',
      [2, 3, 5, 7, 10, 11, 12, 20].map((t) => [t, 1]),
    );
    const g = analyzeSurvival(rs, { confLevel: 0.9, times: [5], atRiskStep: 10, rmstTau: 10 }).overall;
    expect(g.survival.map((s) => s.time)).toEqual([5]);
    expect(g.atRisk).toEqual([
      { time: 0, nRisk: 8 },
      { time: 10, nRisk: 4 },
      { time: 20, nRisk: 1 },
    ]);
    expect(g.rmst.tau).toBe(10);
    expect(g.rmst.estimate).toBeCloseTo(2 + 0.875 + 0.75 * 2 + 0.625 * 2 + 0.5 * 3, 12);
    const wide = analyzeSurvival(rs).overall.survival[0]!;
    const narrow = analyzeSurvival(rs, { confLevel: 0.9 }).overall.survival[0]!;
    expect(narrow.lower!).toBeGreaterThan(wide.lower!);
  });
});
