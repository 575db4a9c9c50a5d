import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integerArrayLiteral, textArrayLiteral } from '../../src/ingest/array-literal.js';
import { createTestDatabase, type TestDatabase } from '../support/test-env.js';

let testDb: TestDatabase;
beforeAll(async () => {
  testDb = await createTestDatabase();
});
afterAll(async () => {
  await testDb.close();
});

async function roundTrip(literal: string): Promise<string[]> {
  const { rows } = await sql<{ a: string[] }>`select ${literal}::text[] as a`.execute(testDb.db);
  return rows[0]?.a ?? [];
}

// Text PostgreSQL can store (no NUL, no lone surrogate), biased towards what needs quoting.
const special = fc.constantFrom(
  '"',
  '\\',
  ',',
  '{',
  '}',
  ' ',
  '\t',
  '\n',
  '\r',
  'NULL',
  '\\n',
  '\u0001',
  'é',
  '😀',
);
const storable = fc
  .array(fc.oneof(special, fc.string({ unit: 'grapheme', maxLength: 5 })), { maxLength: 6 })
  .map((parts) => parts.join('').replaceAll('\u0000', ''));

describe('array literals', () => {
  it('PostgreSQL reads back exactly the strings given, whatever they hold', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(storable, { minLength: 1, maxLength: 30 }), async (values) => {
        expect(await roundTrip(textArrayLiteral(values))).toEqual(values);
      }),
      { numRuns: 200 },
    );
  });

  it('takes the one-call path for ordinary text and the per-element path for control characters', () => {
    expect(textArrayLiteral(['a', 'b "c"', 'd\\e'])).toBe('{"a","b \\"c\\"","d\\\\e"}');
    expect(textArrayLiteral(['tab\there'])).toBe('{"tab\there"}');
    expect(textArrayLiteral(['{"line":1}'])).toBe('{"{\\"line\\":1}"}');
  });

  it('writes integers bare and refuses anything else', async () => {
    const { rows } = await sql<{
      a: number[];
    }>`select ${integerArrayLiteral([1, -2, 3])}::int[] as a`.execute(testDb.db);
    expect(rows[0]?.a).toEqual([1, -2, 3]);
    expect(() => integerArrayLiteral([1.5])).toThrow(TypeError);
  });
});
