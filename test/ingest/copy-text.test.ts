import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poolOf } from '../../src/db/connection.js';
import { copyField } from '../../src/ingest/copy-text.js';
import { createTestDatabase, type TestDatabase } from '../support/test-env.js';

let testDb: TestDatabase;
beforeAll(async () => {
  testDb = await createTestDatabase();
});
afterAll(async () => {
  await testDb.close();
});

// Text PostgreSQL can store (no NUL), biased towards what COPY treats specially.
const special = fc.constantFrom('\\', '\t', '\n', '\r', '\\N', '\\.', '\\t', '"', ',', 'é', '😀', ' ');
const storable = fc
  .array(fc.oneof(special, fc.string({ unit: 'grapheme', maxLength: 4 })), { maxLength: 8 })
  .map((parts) => parts.join('').replaceAll('\u0000', ''));

describe('copyField', () => {
  it('leaves ordinary text alone', () => {
    expect(copyField('{"line":1,"agent":"x"}')).toBe('{"line":1,"agent":"x"}');
    expect(copyField('a\tb\\c\nd\re')).toBe('a\\tb\\\\c\\nd\\re');
  });

  it('COPY reads back exactly the text given, whatever it holds', async () => {
    const client = await poolOf(testDb.db)!.connect();
    try {
      await client.query('create temporary table copied (n int, a text, b text)');
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(storable, storable), { minLength: 1, maxLength: 20 }),
          async (rows) => {
            await client.query('truncate copied');
            const text = rows.map(([a, b], n) => `${n}\t${copyField(a)}\t${copyField(b)}\n`).join('');
            await pipeline(Readable.from([text]), client.query(copyFrom('copy copied from stdin')));
            const back = await client.query<{ a: string; b: string }>('select a, b from copied order by n');
            expect(back.rows.map((r) => [r.a, r.b])).toEqual(rows);
          },
        ),
        { numRuns: 150 },
      );
    } finally {
      client.release();
    }
  });
});
