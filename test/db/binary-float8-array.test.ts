import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryFloat8Array } from '../../src/db/binary-float8-array.js';
import { createTestDatabase, type TestDatabase } from '../support/test-env.js';

/** The array PostgreSQL stores from the encoded parameter, read back (node-postgres parses the text). */
async function roundTrip(db: TestDatabase['db'], values: ArrayLike<number | null>) {
  const { rows } = await sql<{
    a: (number | null)[];
  }>`select ${binaryFloat8Array(values)}::float8[] as a`.execute(db);
  return rows[0]?.a;
}

/** Element by element with Object.is: -0 is not 0, NaN is NaN. */
function expectSameDoubles(actual: (number | null)[] | undefined, expected: ArrayLike<number | null>) {
  expect(actual).toHaveLength(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual?.[i], expected[i]))
      expect.fail(`element ${i}: stored ${actual?.[i]}, sent ${expected[i]}`);
  }
}

describe('binaryFloat8Array (PostgreSQL binary array format)', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase();
  });
  afterAll(async () => {
    await testDb.close();
  });

  it('stores every double as itself, and null as a NULL element', async () => {
    const values = [
      0,
      -0,
      1.5,
      0.1 + 0.2,
      1 / 3,
      5e-324, // the smallest subnormal
      -2.2250738585072014e-308,
      Number.MAX_VALUE,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      null,
      47.671457905544145,
    ];
    expectSameDoubles(await roundTrip(testDb.db, values), values);
    // The stored elements are float8 (not text) and the NULL is a NULL.
    const { rows } = await sql<{ nulls: number; type: string }>`
      select count(*) filter (where v is null)::int as nulls, pg_typeof(${binaryFloat8Array(values)}::float8[])::text as type
      from unnest(${binaryFloat8Array(values)}::float8[]) as v`.execute(testDb.db);
    expect(rows[0]).toEqual({ nulls: 1, type: 'double precision[]' });
  });

  it('stores the empty array, an array of only NULLs, and a typed array', async () => {
    expect(await roundTrip(testDb.db, [])).toEqual([]);
    expect(await roundTrip(testDb.db, [null, null])).toEqual([null, null]);
    const typed = Float64Array.from([3, -0, 2.5]);
    expectSameDoubles(await roundTrip(testDb.db, typed), typed);
  });

  it('round-trips any array of doubles and nulls (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.option(fc.double(), { nil: null }), { maxLength: 300 }),
        async (values) => {
          expectSameDoubles(await roundTrip(testDb.db, values), values);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses an element that is not a number or null', () => {
    expect(() => binaryFloat8Array([1, undefined as unknown as number])).toThrow(/element 1 is not a number/);
    expect(() => binaryFloat8Array(['2' as unknown as number])).toThrow(/element 0 is not a number/);
  });
});
