import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { inject } from 'vitest';
import { type Config, loadConfig } from '../../src/config.js';
import { createDatabase } from '../../src/db/connection.js';
import type { Database } from '../../src/db/database.js';
import { deleteQueueKeys } from '../../src/jobs/delete-queue-keys.js';
import { dropDatabase, recreateDatabase } from './servers.js';

export type TestDatabase = { url: string; db: Kysely<Database>; close: () => Promise<void> };

/**
 * A database of this test file's own, cloned from the migrated template. Call in beforeAll and
 * `close()` in afterAll.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `survflow_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = await recreateDatabase(inject('databaseUrl'), name, inject('templateDatabase'));
  const db = createDatabase({ url, poolMax: 5, applicationName: 'survflow-test' });
  return {
    url,
    db,
    close: async () => {
      await db.destroy();
      await dropDatabase(inject('databaseUrl'), name);
    },
  };
}

/** A queue prefix no other test shares (hash-tagged like the production default). */
export function uniqueQueuePrefix(label = 'test'): string {
  return `{survflow-${label}-${randomBytes(5).toString('hex')}}`;
}

/** A configuration pointing at the test servers, with a database and queue prefix of one's own. */
export function testConfig(overrides: {
  databaseUrl: string;
  queuePrefix?: string;
  env?: Record<string, string>;
}): Config {
  const base = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...overrides.env });
  return {
    ...base,
    databaseUrl: overrides.databaseUrl,
    redisUrl: inject('redisUrl'),
    queuePrefix: overrides.queuePrefix ?? uniqueQueuePrefix(),
  };
}

/** Deletes every Redis key under a queue prefix. */
export async function deleteQueuePrefix(prefix: string): Promise<void> {
  await deleteQueueKeys(inject('redisUrl'), prefix);
}
