import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeCounted, sortCounted, sortThenSum } from '../../src/stats/counted-times.js';

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

describe('mergeCounted', () => {
  /** A group's sample as the engine holds it: ascending, each entry counted or not. */
  const part = fc
    .tuple(fc.array(fc.tuple(time, fc.integer({ min: 1, max: 1_000 })), { maxLength: 60 }), fc.boolean())
    .map(([entries, counted]) => {
      const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const times = Float64Array.from(sorted, ([t]) => t).sort();
      return { times, counts: counted ? Float64Array.from(sorted, ([, c]) => c) : undefined };
    });

  it('gives for sorted groups exactly what sorting their entries together gives, or leaves it to the sort', () => {
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), fc.boolean(), (parts, shuffle) => {
        // Some cases with one group out of order: never merged.
        if (shuffle && (parts[0]?.times.length ?? 0) > 1) parts[0]?.times.reverse();
        const times = Float64Array.from(parts.flatMap((p) => Array.from(p.times)));
        const counts = Float64Array.from(
          parts.flatMap((p) => (p.counts ? Array.from(p.counts) : Array.from(p.times, () => 1))),
        );
        const merged = mergeCounted(parts);
        const plain = parts.every((p) =>
          p.times.every(
            (t, i) => !Number.isNaN(t) && !Object.is(t, -0) && (i === 0 || (p.times[i - 1] as number) <= t),
          ),
        );
        if (!plain) expect(merged).toBeUndefined();
        else {
          expect(merged).toBeDefined();
          expect(bytesOf(merged as { times: Float64Array; counts: Float64Array })).toEqual(
            bytesOf(sortThenSum(times, counts)),
          );
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('sums equal times across groups, an uncounted entry counting one', () => {
    const merged = mergeCounted([
      { times: Float64Array.from([0, 1, 1, 3]), counts: undefined },
      { times: Float64Array.from([1, 2, 3]), counts: Float64Array.from([5, 6, 7]) },
    ]);
    expect(Array.from(merged?.times ?? [])).toEqual([0, 1, 2, 3]);
    expect(Array.from(merged?.counts ?? [])).toEqual([1, 7, 6, 8]);
    expect(mergeCounted([{ times: Float64Array.from([-0, 1]), counts: undefined }])).toBeUndefined();
    expect(mergeCounted([{ times: Float64Array.from([2, 1]), counts: undefined }])).toBeUndefined();
  });
});
