import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/test-env.js';

describe('test support', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase();
  });
  afterAll(async () => {
    await testDb.close();
  });

  it('clones a migrated database per file', async () => {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from events`.execute(testDb.db);
    expect(rows[0]?.n).toBe(0);
  });
});
