import { once } from 'node:events';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { LatestRunTracker, type LatestRunTrackerOptions, readLatestRunId } from '../../src/api/latest-run.js';
import type { Config } from '../../src/config.js';
import { siblingDatabaseUrl } from '../../src/db/connection.js';
import { createLogger } from '../../src/logger.js';
import { analysisParameters } from '../../src/recompute/parameters.js';
import { insertRun, publishRun } from '../../src/recompute/run-store.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

let testDb: TestDatabase;
let config: Config;

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url });
});
afterAll(async () => {
  await testDb?.close();
});
beforeEach(async () => {
  await sql`truncate runs cascade`.execute(testDb.db);
});

/** A run row, not yet published. */
const newRun = async () =>
  (await insertRun(testDb.db, analysisParameters(config, '2024-06-30'), { trigger: 'test' }, 'test')).id;

/** Publishes through the real publication (with its NOTIFY). */
async function published(): Promise<string> {
  const runId = await newRun();
  await publishRun(testDb.db, runId);
  return runId;
}

/** Publishes by hand WITHOUT a notification (as a publication made by other means would). */
async function publishedSilently(): Promise<string> {
  const runId = await newRun();
  await testDb.db
    .updateTable('runs')
    .set({ status: 'published', published_at: sql`clock_timestamp()` })
    .where('id', '=', runId)
    .execute();
  return runId;
}

/** A tracker whose database lookups are counted; closed when the test ends. */
async function tracker(options: Partial<LatestRunTrackerOptions> = {}) {
  const lookups = { count: 0 };
  const instance = new LatestRunTracker({
    databaseUrl: testDb.url,
    readLatestId: () => {
      lookups.count++;
      return readLatestRunId(testDb.db);
    },
    logger: createLogger('silent'),
    ...options,
  });
  onTestFinished(() => instance.close());
  const listening = once(instance, 'listening');
  instance.start();
  await listening;
  return { instance, lookups };
}

/** Ends the tracker's listening session from the server side, as a restart or a network cut would. */
async function killListener(instance: LatestRunTracker) {
  const disconnected = once(instance, 'disconnected');
  const { rows } = await sql<{ killed: boolean }>`
    select pg_terminate_backend(pid) as killed from pg_stat_activity
    where application_name = 'survflow-api-listen' and datname = current_database()`.execute(testDb.db);
  expect(rows.length).toBeGreaterThan(0);
  await disconnected;
  expect(instance.state.listening).toBe(false);
}

describe('LatestRunTracker: which run is latest, cached until a publication is notified', () => {
  it('reads the latest run once while listening, and again only after a publication', async () => {
    const first = await published();
    const { instance, lookups } = await tracker();
    expect(await instance.latestId()).toBe(first);
    expect(await instance.latestId()).toBe(first);
    expect(await instance.latestId()).toBe(first);
    expect(lookups.count).toBe(1);

    const notified = once(instance, 'published');
    const second = await published();
    expect(await notified).toEqual([second]);
    expect(instance.state.cached).toBe(false);
    expect(await instance.latestId()).toBe(second);
    expect(await instance.latestId()).toBe(second);
    expect(lookups.count).toBe(2);
  });

  it('caches "no run yet" too, and the first publication replaces it', async () => {
    const { instance, lookups } = await tracker();
    expect(await instance.latestId()).toBeNull();
    expect(await instance.latestId()).toBeNull();
    expect(lookups.count).toBe(1);
    const notified = once(instance, 'published');
    const first = await published();
    await notified;
    expect(await instance.latestId()).toBe(first);
  });

  it('a burst of requests after a publication costs one lookup', async () => {
    await published();
    const { instance, lookups } = await tracker();
    const ids = await Promise.all(Array.from({ length: 20 }, () => instance.latestId()));
    expect(new Set(ids).size).toBe(1);
    expect(lookups.count).toBe(1);
  });

  it('a lookup that started before a notification does not fill the cache after it', async () => {
    const first = await published();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let calls = 0;
    const { instance } = await tracker({
      readLatestId: async () => {
        calls++;
        const id = await readLatestRunId(testDb.db);
        if (calls === 1) await gate; // the first answer arrives late, after the next publication
        return id;
      },
    });
    const slow = instance.latestId();
    const notified = once(instance, 'published');
    const second = await published();
    await notified;
    release();
    expect(await slow).toBe(first); // it answered what was latest when it asked
    expect(instance.state.cached).toBe(false); // ... but did not cache it past the notification
    expect(await instance.latestId()).toBe(second);
    expect(calls).toBe(2);
  });

  it('while the listener is down, every call reads the database (a publication is seen at once)', async () => {
    const first = await published();
    // No reconnection during this test: it checks the fallback alone.
    const { instance, lookups } = await tracker({ reconnectDelayMs: 600_000 });
    expect(await instance.latestId()).toBe(first);
    await killListener(instance);
    const second = await published(); // its notification reaches nobody here
    const before = lookups.count;
    expect(await instance.latestId()).toBe(second);
    expect(await instance.latestId()).toBe(second);
    expect(lookups.count).toBe(before + 2);
  });

  it('reconnects after losing its connection, then reads what was published meanwhile and caches again', async () => {
    const first = await published();
    // The reconnect delay leaves time to publish while nobody listens.
    const { instance, lookups } = await tracker({ reconnectDelayMs: 1_500 });
    expect(await instance.latestId()).toBe(first);
    const notifiedIds: string[] = [];
    instance.on('published', (id) => notifiedIds.push(id));
    await killListener(instance);
    const relistening = once(instance, 'listening');
    const meanwhile = await published();
    await relistening;
    // The scenario this test is about: that publication was never notified to the tracker.
    expect(notifiedIds).not.toContain(meanwhile);
    expect(instance.state.listening).toBe(true);
    expect(await instance.latestId()).toBe(meanwhile);
    const afterReconnect = lookups.count;
    expect(await instance.latestId()).toBe(meanwhile);
    expect(lookups.count).toBe(afterReconnect);
  });

  it('a listener that cannot connect keeps retrying, and meanwhile every call reads the database', async () => {
    const first = await published();
    const lookups = { count: 0 };
    const instance = new LatestRunTracker({
      databaseUrl: siblingDatabaseUrl(testDb.url, 'survflow_no_such_database'),
      readLatestId: () => {
        lookups.count++;
        return readLatestRunId(testDb.db);
      },
      logger: createLogger('silent'),
      reconnectDelayMs: 10,
    });
    onTestFinished(() => instance.close());
    const failures: Error[] = [];
    const twoFailures = new Promise<void>((resolve) => {
      instance.on('disconnected', (error) => {
        failures.push(error);
        if (failures.length === 2) resolve();
      });
    });
    instance.start();
    await twoFailures;
    expect(failures[0]?.name).toBe('LatestRunListenerError');
    expect(instance.state.listening).toBe(false);
    expect(await instance.latestId()).toBe(first);
    expect(await instance.latestId()).toBe(first);
    expect(lookups.count).toBe(2);
  });

  it('periodic verification repairs a cache that missed a publication made without a notification', async () => {
    const first = await published();
    const { instance } = await tracker({ verifyIntervalMs: 100 });
    expect(await instance.latestId()).toBe(first);
    const sneaked = await publishedSilently();
    expect(await instance.latestId()).toBe(first); // cached: nothing told it yet
    for (;;) {
      const [repaired] = await once(instance, 'verified');
      if (repaired) break;
    }
    expect(await instance.latestId()).toBe(sneaked);
  });

  it('close() ends the listening connection', async () => {
    const { instance } = await tracker({ reconnectDelayMs: 10 });
    await instance.close();
    const { rows } = await sql<{ n: string }>`
      select count(*)::text as n from pg_stat_activity
      where application_name = 'survflow-api-listen' and datname = current_database()`.execute(testDb.db);
    expect(rows[0]?.n).toBe('0');
    expect(instance.state.listening).toBe(false);
  });
});
