/** Properties of the engine on random data (fast-check). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  analyzeSurvival,
  analyzeSurvivalColumns,
  confidenceBands,
  eventTable,
  groupedEventTable,
  kaplanMeier,
  logRankTest,
  median,
  medianFollowUp,
  pooledSample,
  reverseKaplanMeier,
  SURVIVAL_TOLERANCE,
  type SurvivalRow,
  sortedSample,
  splitByGroup,
} from '../../src/stats/index.js';

const time = fc.oneof(
  fc.integer({ min: 0, max: 15 }), // many ties
  fc.double({ min: 0, max: 60, noNaN: true, noDefaultInfinity: true }),
);
const row = fc.record({
  group: fc.constantFrom('A', 'B', 'C'),
  time,
  event: fc.constantFrom<0 | 1>(0, 1),
});
const rows = fc.array(row, { minLength: 1, maxLength: 60 });

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

describe('properties', () => {
  it('S is non-increasing and in [0, 1]; events + censored = n', () => {
    fc.assert(
      fc.property(rows, (rs) => {
        const result = analyzeSurvival(rs);
        for (const g of [...result.groups, result.overall]) {
          expect(g.events + g.censored).toBe(g.n);
          expect(g.curve.reduce((s, p) => s + p.nEvent + p.nCensor, 0)).toBe(g.n);
          let previous = 1;
          for (const p of g.curve) {
            expect(p.surv).toBeGreaterThanOrEqual(0);
            expect(p.surv).toBeLessThanOrEqual(previous);
            previous = p.surv;
          }
        }
      }),
    );
  });

  it('skipping the curve changes nothing else', () => {
    fc.assert(
      fc.property(
        rows,
        fc.constantFrom<'log' | 'log-log' | 'plain'>('log', 'log-log', 'plain'),
        (rs, confType) => {
          const withCurve = analyzeSurvival(rs, { confType });
          const without = analyzeSurvival(rs, { confType, includeCurve: false });
          const strip = (g: (typeof withCurve)['overall']) => ({ ...g, curve: [] });
          expect(without.groups).toEqual(withCurve.groups.map(strip));
          expect(without.overall).toEqual(strip(withCurve.overall));
          expect([without.logRank, without.cox]).toEqual([withCurve.logRank, withCurve.cox]);
        },
      ),
    );
  });

  it('columnar input gives the same results as rows', () => {
    fc.assert(
      fc.property(rows, (rs) => {
        const columns = {
          group: rs.map((r) => r.group),
          time: Float64Array.from(rs, (r) => r.time),
          event: Uint8Array.from(rs, (r) => r.event),
        };
        expect(analyzeSurvivalColumns(columns)).toEqual(analyzeSurvival(rs));
      }),
    );
  });

  it('row order does not change any result', () => {
    fc.assert(
      fc.property(
        rows.chain((rs) => fc.tuple(fc.constant(rs), fc.shuffledSubarray(rs, { minLength: rs.length }))),
        ([rs, shuffled]) => {
          expect(analyzeSurvival(shuffled)).toEqual(analyzeSurvival(rs));
        },
      ),
    );
  });

  it('the median is null exactly when S never reaches 0.5 (within R tolerance)', () => {
    fc.assert(
      fc.property(rows, (rs) => {
        const fit = fitOf(rs);
        const minS = fit.surv.reduce((m, s) => Math.min(m, s), 1);
        const result = analyzeSurvival(rs);
        expect(result.overall.median === null).toBe(!(minS < 0.5 + SURVIVAL_TOLERANCE));
      }),
    );
  });

  it('KM equals the product-limit formula computed naively from the rows', () => {
    const intRows = fc.array(
      fc.record({
        group: fc.constant('A'),
        time: fc.integer({ min: 0, max: 10 }),
        event: fc.constantFrom<0 | 1>(0, 1),
      }),
      { minLength: 1, maxLength: 40 },
    );
    fc.assert(
      fc.property(intRows, (rs) => {
        const fit = fitOf(rs);
        const times = [...new Set(rs.map((r) => r.time))].sort((a, b) => a - b);
        expect(Array.from(fit.time)).toEqual(times);
        let s = 1;
        times.forEach((t, j) => {
          const n = rs.filter((r) => r.time >= t).length;
          const d = rs.filter((r) => r.time === t && r.event === 1).length;
          s *= 1 - d / n;
          expect(fit.nRisk[j]).toBe(n);
          expect(fit.surv[j]).toBeCloseTo(s, 12);
        });
      }),
    );
  });

  it('the log-rank chi-square is 0 for identical groups', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ time, event: fc.constantFrom<0 | 1>(0, 1) }), { minLength: 1, maxLength: 40 }),
        (base) => {
          const rs: SurvivalRow[] = [
            ...base.map((r) => ({ ...r, group: 'A' })),
            ...base.map((r) => ({ ...r, group: 'B' })),
          ];
          const { samples } = splitByGroup(rs);
          const lr = logRankTest(groupedEventTable(samples, pooledSample(samples)));
          expect(Math.abs(lr.chisq)).toBeLessThan(1e-20);
          const result = analyzeSurvival(rs);
          if (lr.singular) {
            // Every death at a time where all at risk die: no information, p undefined.
            expect(result.logRank!.p).toBeNull();
          } else if (base.some((r) => r.event === 1)) {
            expect(result.logRank!.df).toBe(1);
            expect(result.logRank!.p).toBeCloseTo(1, 12);
            expect(result.cox!.hr).toBeCloseTo(1, 6);
          } else {
            expect(result.logRank!.p).toBeNull();
            expect(result.cox).toBeNull();
          }
        },
      ),
    );
  });

  it('reverse KM is the KM of the rows with event and censoring swapped', () => {
    fc.assert(
      fc.property(rows, (rs) => {
        const reverse = reverseKaplanMeier(fitOf(rs));
        const flipped = fitOf(rs.map((r) => ({ ...r, event: (1 - r.event) as 0 | 1 })));
        expect(Array.from(reverse.time)).toEqual(Array.from(flipped.time));
        expect(Array.from(reverse.surv)).toEqual(Array.from(flipped.surv));
        expect(Array.from(reverse.stdErrCumHaz)).toEqual(Array.from(flipped.stdErrCumHaz));
        // The streaming median follow-up equals the median of the stored reverse curve.
        expect(medianFollowUp(fitOf(rs))).toEqual(median(reverse, confidenceBands(reverse, 'log')));
      }),
    );
  });
});
