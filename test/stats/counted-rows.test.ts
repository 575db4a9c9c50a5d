/**
 * Counted rows (`count`: one row for that many identical subjects) give exactly the results of
 * the expanded rows: the event tables are the same numbers (integer sums are exact in doubles), so
 * every figure is compared with toEqual, no tolerance.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import {
  type AnalysisOptions,
  analyzeSurvival,
  analyzeSurvivalColumns,
  eventTable,
  groupedEventTable,
  pooledSample,
  type SurvivalColumns,
  type SurvivalRow,
  sortedSample,
  splitColumnsByGroup,
} from '../../src/stats/index.js';

type CountedRow = SurvivalRow & { count: number };

/** The rows with each one repeated `count` times (and no count). */
function expand(rows: readonly CountedRow[]): SurvivalRow[] {
  return rows.flatMap(({ count, ...row }) => Array.from({ length: count }, () => ({ ...row })));
}

function columnsOf(rows: readonly SurvivalRow[], withCount: boolean): SurvivalColumns {
  return {
    group: rows.map((r) => r.group),
    time: Float64Array.from(rows, (r) => r.time),
    event: Uint8Array.from(rows, (r) => r.event),
    ...(withCount ? { count: Int32Array.from(rows, (r) => r.count ?? 1) } : {}),
  };
}

// Times: ties (small integers), zero and -0, continuous values, and near-equal variants of a base
// time that R's aeqSurv merges (1e-12 and 1e-9 relative) or keeps apart (1e-7 relative).
const baseTime = fc.oneof(
  fc.integer({ min: 0, max: 12 }),
  fc.constantFrom(0, -0, 0.3, 0.1 + 0.2),
  fc.double({ min: 0, max: 60, noNaN: true, noDefaultInfinity: true }),
);
const nearEqual = fc.constantFrom(0, 0, 0, 1e-12, -1e-12, 3e-12, 1e-9, 1e-7);
const time = fc
  .tuple(baseTime, nearEqual)
  .map(([t, relative]) => (relative === 0 ? t : Math.max(0, t * (1 + relative))));

/** One group: 1-25 rows (single-row groups are common), some groups without any death. */
const groupRows = (label: string) =>
  fc.boolean().chain((noDeaths) =>
    fc.array(
      fc.record({
        group: fc.constant(label),
        time,
        event: noDeaths ? fc.constant<0 | 1>(0) : fc.constantFrom<0 | 1>(0, 1),
        count: fc.integer({ min: 1, max: 50 }),
      }),
      { minLength: 1, maxLength: 25 },
    ),
  );

/** 1-4 groups, rows interleaved in random order. */
const countedRows = fc
  .integer({ min: 1, max: 4 })
  .chain((k) => fc.tuple(...['A', 'B', 'C', 'D'].slice(0, k).map(groupRows)))
  .chain((groups) => fc.shuffledSubarray(groups.flat(), { minLength: groups.flat().length }));

const options: fc.Arbitrary<AnalysisOptions> = fc.record({
  confType: fc.constantFrom<'log' | 'log-log' | 'plain'>('log', 'log-log', 'plain'),
  includeCurve: fc.boolean(),
});

describe('counted rows', () => {
  it('give results deep-equal to the expanded rows (groups, curves, log-rank, Cox)', () => {
    fc.assert(
      fc.property(countedRows, options, (rows, opts) => {
        const expanded = expand(rows);
        const fromExpanded = analyzeSurvivalColumns(columnsOf(expanded, false), opts);
        expect(analyzeSurvivalColumns(columnsOf(rows, true), opts)).toEqual(fromExpanded);
        expect(analyzeSurvival(rows, opts)).toEqual(fromExpanded);
      }),
      { numRuns: 300 },
    );
  });

  it('build the same event tables as the expanded rows, from one entry per distinct time', () => {
    fc.assert(
      fc.property(countedRows, (rows) => {
        const counted = splitColumnsByGroup(columnsOf(rows, true));
        const expanded = splitColumnsByGroup(columnsOf(expand(rows), false));
        expect(counted.labels).toEqual(expanded.labels);
        counted.samples.forEach((sample, g) => {
          expect(eventTable(sample)).toEqual(eventTable(expanded.samples[g]!));
          expect(new Set(sample.deaths).size).toBe(sample.deaths.length);
          expect(new Set(sample.censorings).size).toBe(sample.censorings.length);
        });
        const pooled = pooledSample(counted.samples);
        expect(groupedEventTable(counted.samples, pooled)).toEqual(
          groupedEventTable(expanded.samples, pooledSample(expanded.samples)),
        );
        expect(eventTable(pooled)).toEqual(eventTable(pooledSample(expanded.samples)));
      }),
    );
  });

  it('with every count 1, equal the same columns without counts', () => {
    fc.assert(
      fc.property(countedRows, (rows) => {
        const ones = rows.map((r) => ({ ...r, count: 1 }));
        expect(analyzeSurvivalColumns(columnsOf(ones, true))).toEqual(
          analyzeSurvivalColumns(columnsOf(ones, false)),
        );
      }),
      { numRuns: 50 },
    );
  });
});

describe('counted rows, edge cases', () => {
  const same = (rows: CountedRow[], opts: AnalysisOptions = {}) => {
    const result = analyzeSurvivalColumns(columnsOf(rows, true), opts);
    expect(result).toEqual(analyzeSurvivalColumns(columnsOf(expand(rows), false), opts));
    return result;
  };

  it('one row of 50 deaths at one time: S drops to 0 there', () => {
    const r = same([{ group: 'A', time: 7, event: 1, count: 50 }]);
    expect(r.overall).toMatchObject({ n: 50, events: 50, censored: 0, median: 7 });
    expect(r.overall.curve).toEqual([
      { time: 7, nRisk: 50, nEvent: 50, nCensor: 0, surv: 0, stdErr: null, lower: null, upper: null },
    ]);
  });

  it('-0 and 0 are one time whichever comes first (found by the property above)', () => {
    const r = same([
      { group: 'A', time: -0, event: 0, count: 1 },
      { group: 'A', time: 0, event: 0, count: 1 },
    ]);
    expect(Object.is(r.overall.rmst.tau, 0)).toBe(true);
  });

  it('a group without deaths beside one with deaths: the diverging Cox model is the same', () => {
    const r = same([
      { group: 'A', time: 2, event: 0, count: 30 },
      { group: 'A', time: 9, event: 0, count: 12 },
      { group: 'B', time: 3, event: 1, count: 20 },
      { group: 'B', time: 5, event: 0, count: 7 },
      { group: 'B', time: 6, event: 1, count: 15 },
    ]);
    expect(r.groups.map((g) => [g.group, g.n, g.events])).toEqual([
      ['A', 42, 0],
      ['B', 42, 35],
    ]);
    expect(r.cox).not.toBeNull();
  });

  it('near-equal times in different rows are merged as in the expanded data (0.1 + 0.2 and 0.3)', () => {
    const r = same([
      { group: 'A', time: 0.1 + 0.2, event: 1, count: 3 },
      { group: 'A', time: 0.3, event: 1, count: 4 },
      { group: 'A', time: 0.3 * (1 + 1e-12), event: 0, count: 5 },
      { group: 'A', time: 1, event: 1, count: 2 },
    ]);
    expect(r.overall.curve.map((p) => [p.time, p.nRisk, p.nEvent, p.nCensor])).toEqual([
      [0.3, 14, 7, 5],
      [1, 2, 2, 0],
    ]);
  });

  it('large counts (1,000,000 subjects in 12 rows) are still exact', () => {
    const rows: CountedRow[] = [];
    for (let i = 0; i < 12; i++)
      rows.push({
        group: i % 2 ? 'yes' : 'no',
        time: 1 + (i % 5),
        event: (i % 3 ? 1 : 0) as 0 | 1,
        count: 83_333 + (i < 4 ? 1 : 0),
      });
    const r = same(rows, { includeCurve: false });
    expect(r.overall.n).toBe(1_000_000);
  });

  it('rows may mix counted and uncounted rows (absent = 1)', () => {
    const rows: SurvivalRow[] = [
      { group: 'A', time: 1, event: 1, count: 3 },
      { group: 'A', time: 2, event: 0 },
      { group: 'B', time: 1, event: 0 },
      { group: 'B', time: 4, event: 1, count: 2 },
    ];
    const expanded = expand(rows.map((r) => ({ ...r, count: r.count ?? 1 })));
    expect(analyzeSurvival(rows)).toEqual(analyzeSurvival(expanded));
  });

  it('sortedSample and pooledSample accept counts (a counted sample pools with an uncounted one)', () => {
    const counted = sortedSample([3, 1, 3, 2], [1, 0, 1, 1], [2, 4, 1, 5]);
    expect(counted).toEqual({
      deaths: Float64Array.of(2, 3),
      deathCounts: Float64Array.of(5, 3),
      censorings: Float64Array.of(1),
      censoringCounts: Float64Array.of(4),
    });
    const plain = sortedSample([3, 1, 1], [0, 1, 1]);
    const expanded = sortedSample(
      [3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 1, 1],
      [1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1],
    );
    expect(eventTable(pooledSample([counted, plain]))).toEqual(eventTable(expanded));
  });

  it('rejects counts that are not positive integers, naming the row', () => {
    const base = { group: ['A', 'A'], time: [1, 2], event: [1, 0] };
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])
      expect(() => analyzeSurvivalColumns({ ...base, count: [1, bad] })).toThrow(
        new InputError(`row 2: count must be a positive integer, got ${String(bad)}`),
      );
    // A hole in the column is not one subject.
    expect(() => analyzeSurvivalColumns({ ...base, count: [1, undefined as unknown as number] })).toThrow(
      /row 2: count must be a positive integer, got NaN/,
    );
    expect(() => analyzeSurvival([{ group: 'A', time: 1, event: 1, count: 0 }])).toThrow(
      /row 1: count must be a positive integer, got 0/,
    );
    expect(() => analyzeSurvivalColumns({ ...base, count: [1] })).toThrow(
      new InputError('columns differ in length: group 2, time 2, event 2, count 1'),
    );
    expect(() =>
      analyzeSurvivalColumns({ ...base, count: [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] }),
    ).toThrow(/row 2: counts add up to more than/);
  });
});
