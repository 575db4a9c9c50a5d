import { sql } from 'kysely';
import { tsImport } from 'tsx/esm/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/test-env.js';

describe('migrateToLatest', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase();
  });
  afterAll(async () => {
    await testDb.close();
  });

  const migrate = () => migrateToLatest(testDb.db, (file) => tsImport(file, import.meta.url));

  it('has nothing to run on a migrated database', async () => {
    expect(await migrate()).toEqual([]);
  });

  it('names the cause when it cannot run at all (an applied migration whose file is gone)', async () => {
    await sql`insert into kysely_migration (name, timestamp) values ('2020-01-01T00-00-00Z_gone', now()::text)`.execute(
      testDb.db,
    );
    await expect(migrate()).rejects.toThrow(
      /migrations could not run: .*previously executed migration 2020-01-01T00-00-00Z_gone is missing/,
    );
  });
});
