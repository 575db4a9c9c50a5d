import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortCounted, sortThenSum } from '../../src/stats/counted-times.js';

/** The bytes of a result: equal bytes, equal doubles (-0 and NaN included). */
const bytesOf = ({ times, counts }: { times: Float64Array; counts: Float64Array }) => ({
  times: Buffer.from(times.buffer, times.byteOffset, times.byteLength).toString('hex'),
  counts: Buffer.from(counts.buffer, counts.byteOffset, counts.byteLength).toString('hex'),
});

const time = fc.oneof(
  fc.integer({ min: 0, max: 40 }).map((days) => days / 30.4375),
  fc.constantFrom(0, -0, 1, Number.POSITIVE_INFINITY, Number.NaN, 5e-324),
  fc.double({ noNaN: true }),
);

describe('sortCounted', () => {
  it('gives for times in ascending order, summed in one pass, exactly what sorting gives', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(time, fc.integer({ min: 1, max: 1_000 })), { maxLength: 200 }),
        fc.boolean(),
        (entries, presort) => {
          // Half the cases in the order a sort leaves them (the one-pass path), half as drawn.
          const ordered = presort ? [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : entries;
          const times = Float64Array.from(ordered, ([t]) => t);
          if (presort) times.sort();
          const counts = Float64Array.from(ordered, ([, c]) => c);
          expect(bytesOf(sortCounted(times, counts))).toEqual(bytesOf(sortThenSum(times, counts)));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('sums the counts of equal times and leaves its input as it was', () => {
    const times = Float64Array.from([0.5, 0.5, 1, 2, 2, 2]);
    const counts = Float64Array.from([1, 2, 3, 4, 5, 6]);
    const result = sortCounted(times, counts);
    expect(Array.from(result.times)).toEqual([0.5, 1, 2]);
    expect(Array.from(result.counts)).toEqual([3, 3, 15]);
    expect(Array.from(times)).toEqual([0.5, 0.5, 1, 2, 2, 2]);
    const shuffled = sortCounted(
      Float64Array.from([2, 0.5, 2, 1, 0.5, 2]),
      Float64Array.from([4, 1, 5, 3, 2, 6]),
    );
    expect(Array.from(shuffled.times)).toEqual([0.5, 1, 2]);
    expect(Array.from(shuffled.counts)).toEqual([3, 3, 15]);
  });
});
