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
          expect(Array.from(engine.group), definition.grouping).toEqual(expected.group);
          expect(Array.from(engine.time)).toEqual(expected.time);
          expect(Array.from(engine.event)).toEqual(expected.event);
          expect(Array.from(engine.count ?? [])).toEqual(expected.count);
          // One label per group, each made once.
          expect(new Set(built.labels).size).toBe(built.labels.length);
        }
      }),
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
