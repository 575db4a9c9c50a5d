import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { InputError } from '../../src/errors.js';
import { groupingDefinitions } from '../../src/recompute/groupings.js';
import { analysisParameters, cycleGroupLabels } from '../../src/recompute/parameters.js';
import {
  type CountedAnalysedPatients,
  survivalColumnsByGrouping,
  survivalColumnsOf,
  timeRanks,
} from '../../src/recompute/summarize.js';

const parameters = analysisParameters(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }), '2024-06-30');
const cycleLabels = cycleGroupLabels(parameters.cycleGroupBounds).map((g) => g.label);

/** An analysable patient combination as the recompute holds it (landmark fields set when eligible). */
const combination: fc.Arbitrary<CountedAnalysedPatients> = fc
  .record({
    time_months: fc.double({ min: 0, max: 120, noNaN: true }),
    event: fc.constantFrom(0, 1),
    radiotherapy: fc.option(fc.boolean()),
    // Labels beyond the configured ones end up after them in the output; they must survive too.
    cycle_group: fc.constantFrom(...cycleLabels, 'unexpected'),
    landmark_eligible: fc.boolean(),
    landmark_time_months: fc.double({ min: 0, max: 120, noNaN: true }),
    landmark_cycle_group: fc.constantFrom(...cycleLabels),
    landmark_radiotherapy: fc.option(fc.boolean()),
    patients: fc.integer({ min: 1, max: 1_000 }),
  })
  .map((c) =>
    c.landmark_eligible
      ? c
      : { ...c, landmark_time_months: null, landmark_cycle_group: null, landmark_radiotherapy: null },
  );

describe('grouping columns', () => {
  it("place every combination exactly as the grouping's classify does", () => {
    fc.assert(
      fc.property(fc.array(combination, { maxLength: 60 }), (combinations) => {
        const columns = survivalColumnsByGrouping(combinations, parameters);
        for (const definition of groupingDefinitions(parameters)) {
          const expected = {
            group: [] as string[],
            time: [] as number[],
            event: [] as number[],
            count: [] as number[],
          };
          for (const c of combinations) {
            const placed = definition.classify(c);
            if (!placed) continue;
            expected.group.push(placed.group);
            expected.time.push(placed.time);
            expected.event.push(c.event === 1 ? 1 : 0);
            expected.count.push(c.patients ?? 1);
          }
          const built = columns.get(definition.grouping);
          if (!built) throw new Error(`no columns for ${definition.grouping}`);
          const engine = survivalColumnsOf(built);
          // The same rows, in ascending patient time (the builder's order), as a multiset.
          const rows = (c: {
            group: ArrayLike<string>;
            time: ArrayLike<number>;
            event: ArrayLike<number>;
            count?: ArrayLike<number>;
          }) =>
            Array.from(c.time, (t, i) => JSON.stringify([c.group[i], t, c.event[i], c.count?.[i]])).sort();
          expect(rows(engine), definition.grouping).toEqual(rows(expected));
          if (!definition.grouping.endsWith('_landmark')) {
            for (let i = 1; i < built.time.length; i++)
              expect(built.time[i - 1]).toBeLessThanOrEqual(built.time[i] as number);
          }
          // One label per group, each made once.
          expect(new Set(built.labels).size).toBe(built.labels.length);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('orders rows by time once: ascending, ties and rows without a time kept in their order', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            time_months: fc.option(fc.oneof(fc.constantFrom(0, -0, 1.5, 3), fc.double({ noNaN: true }))),
            id: fc.nat(),
          }),
          { maxLength: 80 },
        ),
        (rows) => {
          const ranks = timeRanks(rows);
          // A permutation: every row has its own position.
          expect([...ranks].sort((a, b) => a - b)).toEqual(rows.map((_, i) => i));
          const ordered: (typeof rows)[number][] = [];
          ranks.forEach((rank, i) => {
            ordered[rank] = rows[i] as (typeof rows)[number];
          });
          const timed = ordered.filter((r) => r.time_months !== null);
          for (let i = 1; i < timed.length; i++)
            expect((timed[i - 1]?.time_months as number) <= (timed[i]?.time_months as number)).toBe(true);
          // Untimed rows last, and rows of one time in their original order (a stable order).
          expect(ordered.slice(timed.length).every((r) => r.time_months === null)).toBe(true);
          const position = new Map(rows.map((r, i) => [r, i]));
          for (let i = 1; i < ordered.length; i++) {
            const [a, b] = [ordered[i - 1], ordered[i]] as [(typeof rows)[number], (typeof rows)[number]];
            if (a.time_months === b.time_months)
              expect(position.get(a) as number).toBeLessThan(position.get(b) as number);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuse a patient in a grouping without a group (a derivation fault), naming the grouping', () => {
    const patient: CountedAnalysedPatients = {
      time_months: 3,
      event: 1,
      radiotherapy: true,
      cycle_group: null,
      landmark_eligible: false,
      landmark_time_months: null,
      landmark_cycle_group: null,
      landmark_radiotherapy: null,
      patients: 2,
    };
    const columns = survivalColumnsByGrouping([patient], parameters);
    expect(columns.get('overall')?.labels).toEqual(['all']);
    expect(() => columns.get('cycles')).toThrow(
      new InputError('cycles: a patient in this grouping has no group'),
    );
    expect(() => columns.get('radiotherapy_cycles')).toThrow(InputError);
  });
});
