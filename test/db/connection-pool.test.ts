import { setTimeout as sleep } from 'node:timers/promises';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createDatabase, poolOf } from '../../src/db/connection.js';
import type { Database } from '../../src/db/database.js';
import { createTestDatabase, type TestDatabase } from '../support/test-env.js';

async function backendPid(db: Kysely<Database>): Promise<number> {
  const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
  return rows[0]!.pid;
}

describe('idle database connections', () => {
  let test: TestDatabase;
  const pools: Kysely<Database>[] = [];
  const pool = (idleTimeoutMs?: number) => {
    const db = createDatabase({ url: test.url, poolMax: 1, applicationName: 'survflow-test', idleTimeoutMs });
    pools.push(db);
    return db;
  };

  beforeAll(async () => {
    test = await createTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(pools.map((db) => db.destroy()));
    await test.close();
  });

  it('the worker and the API keep them by default (DATABASE_POOL_IDLE_MS 0); the setting is checked', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).databasePoolIdleMs).toBe(0);
    expect(loadConfig({ NODE_ENV: 'test', DATABASE_POOL_IDLE_MS: '30000' }).databasePoolIdleMs).toBe(30_000);
    expect(() => loadConfig({ NODE_ENV: 'test', DATABASE_POOL_IDLE_MS: '-1' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'test', DATABASE_POOL_IDLE_MS: 'soon' })).toThrow(
      /DATABASE_POOL_IDLE_MS/,
    );
  });

  it('with idleTimeoutMs 0 an idle session is kept: the next query runs in the same server session', async () => {
    const db = pool(0);
    // pg-pool's own default closes idle sessions after 10 s: the option must reach the pool.
    expect(poolOf(db)?.options.idleTimeoutMillis).toBe(0);
    expect(poolOf(pool())?.options.idleTimeoutMillis).toBe(10_000);
    const first = await backendPid(db);
    await sleep(300);
    expect(await backendPid(db)).toBe(first);
  });

  it('with a timeout an idle session is closed and the next query opens a new one', async () => {
    const db = pool(50);
    const first = await backendPid(db);
    await sleep(300);
    expect(await backendPid(db)).not.toBe(first);
  });

  it('destroy() ends the pool even when Kysely itself never ran a query (sessions taken through poolOf)', async () => {
    const db = createDatabase({
      url: test.url,
      poolMax: 2,
      applicationName: 'survflow-test-raw',
      idleTimeoutMs: 0,
    });
    const raw = poolOf(db)!;
    const client = await raw.connect();
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    client.release();
    await db.destroy();
    expect(raw.ending).toBe(true);
    expect(raw.totalCount).toBe(0);
    // The server agrees: the session is gone (its backend may take a moment to exit).
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      const { rows: left } = await sql<{ n: number }>`
        select count(*)::int as n from pg_stat_activity where pid = ${rows[0]!.pid}`.execute(test.db);
      alive = left[0]!.n > 0;
      if (alive) await sleep(20);
    }
    expect(alive).toBe(false);
    // A Kysely that did run queries ends its pool once, through its driver, without a second end().
    const used = pool(0);
    await backendPid(used);
    await used.destroy();
    expect(poolOf(used)?.ended).toBe(true);
  });
});
