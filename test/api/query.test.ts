import { once } from 'node:events';
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/server.js';
import { parseCsv } from '../../src/csv/parse-csv.js';
import { createRedisConnection } from '../../src/jobs/redis.js';
import { createLogger } from '../../src/logger.js';
import { runRecompute } from '../../src/recompute/run-recompute.js';
import type { RunSummaryDocument } from '../../src/summaries/load-run-summary.js';
import { startTestApi, type TestApi } from '../support/api.js';
import { insertLedgerEvents, patientEvents, syntheticCohort } from '../support/ledger-fixture.js';

describe('query routes: runs, summaries (JSON and CSV), recompute; rate limit; readiness', () => {
  let api: TestApi;
  let queryKey: string;
  let adminKey: string;
  let runId: string;

  beforeAll(async () => {
    api = await startTestApi({ API_RATE_LIMIT_MAX: '40' });
    queryKey = await api.key('analyst', ['query']);
    adminKey = await api.key('ops', ['admin', 'query']);
    await insertLedgerEvents(api.deps.db, api.config, syntheticCohort(40, 3).flatMap(patientEvents));
    const outcome = await runRecompute(
      api.deps.db,
      api.config,
      { cutoff: '2024-06-30', trigger: 'test' },
      { logger: createLogger('silent') },
    );
    runId = outcome.runId;
  });
  afterAll(async () => {
    await api?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${queryKey}`, ...headers } });

  it('lists runs and shows one run', async () => {
    const list = (await (await get('/v1/runs')).json()) as {
      runs: { id: string; status: string; cutoff: string }[];
    };
    expect(list.runs[0]).toMatchObject({ id: runId, status: 'published', cutoff: '2024-06-30' });
    const one = await get(`/v1/runs/${runId}`);
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({
      id: runId,
      status: 'published',
      counts: { patientsAnalysed: 40 },
      resultsReusedFrom: null,
    });
    expect((await get('/v1/runs/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect((await get('/v1/runs/not-a-number')).status).toBe(404);
  });

  it('serves the latest summaries as the SPEC section 8 document, with small cells suppressed', async () => {
    const response = await get('/v1/summaries/latest');
    expect(response.status).toBe(200);
    const doc = (await response.json()) as RunSummaryDocument;
    expect(doc.run.id).toBe(runId);
    expect(doc.summaries.find((s) => s.grouping === 'overall')).toMatchObject({
      group: 'all',
      n: 40,
      suppressed: false,
    });
    const suppressed = doc.summaries.filter((s) => s.suppressed);
    expect(suppressed.length).toBeGreaterThan(0);
    for (const s of suppressed) expect([s.n, s.median, s.events]).toEqual([null, null, null]);
    for (const s of doc.summaries.filter((x) => !x.suppressed)) expect(s.n).toBeGreaterThanOrEqual(5);
    const byId = (await (await get(`/v1/runs/${runId}/summaries`)).json()) as RunSummaryDocument;
    expect(byId).toEqual(doc);
  });

  it('serves the same figures as CSV (Accept: text/csv or ?format=csv)', async () => {
    const doc = (await (await get('/v1/summaries/latest?format=json')).json()) as RunSummaryDocument;
    const viaAccept = await get('/v1/summaries/latest', { accept: 'text/csv' });
    expect(viaAccept.headers.get('content-type')).toMatch(/^text\/csv/);
    const csv = await viaAccept.text();
    expect(await (await get(`/v1/runs/${runId}/summaries?format=csv`)).text()).toBe(csv);
    const { records } = parseCsv(csv);
    const [header, ...rows] = records.map((r) => r.fields);
    const column = (name: string) => {
      const index = header?.indexOf(name) ?? -1;
      expect(index).toBeGreaterThanOrEqual(0);
      return index;
    };
    expect(rows).toHaveLength(doc.summaries.length);
    doc.summaries.forEach((s, i) => {
      const row = rows[i] ?? [];
      expect([row[column('grouping')], row[column('group')]]).toEqual([s.grouping, s.group]);
      expect(row[column('suppressed')]).toBe(String(s.suppressed));
      const asNumber = (cell: string | undefined) =>
        cell === '' || cell === undefined ? null : Number(cell);
      expect(asNumber(row[column('n')])).toBe(s.n);
      expect(asNumber(row[column('events')])).toBe(s.events);
      for (const [name, value] of [
        ['median', s.median],
        ['median_lower', s.medianLower],
        ['median_upper', s.medianUpper],
      ] as const) {
        const cell = asNumber(row[column(name)]);
        if (value === null) expect(cell).toBeNull();
        else expect(cell).toBeCloseTo(value, 9);
      }
    });
  });

  it('POST /v1/recompute enqueues a recompute job (admin only), validating the cutoff', async () => {
    const post = (body: unknown, key: string) =>
      fetch(`${api.url}/v1/recompute`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      });
    expect((await post({ cutoff: '2023-13-01' }, adminKey)).status).toBe(400);
    expect((await post({ cutoff: '2023-12-31' }, queryKey)).status).toBe(403);
    const response = await post({ cutoff: '2023-12-31' }, adminKey);
    expect(response.status).toBe(202);
    const answer = (await response.json()) as { jobId: string; cutoff: string };
    expect(answer.cutoff).toBe('2023-12-31');
    const job = await api.deps.recomputeQueue.getJob(answer.jobId);
    expect(job?.data).toMatchObject({ cutoff: '2023-12-31', trigger: 'api' });
  });

  it('serves the new latest run once its publication is notified (cache keyed by run id)', async () => {
    const before = (await (await get('/v1/summaries/latest')).json()) as RunSummaryDocument;
    // The guarantee: a publication is served as soon as this API process has received its
    // NOTIFY (sent by publishRun at commit). Wait for exactly that, not for a while.
    const notified = once(api.app.latestRun, 'published');
    const next = await runRecompute(
      api.deps.db,
      api.config,
      { cutoff: '2022-12-31', trigger: 'test' },
      { logger: createLogger('silent') },
    );
    expect(await notified).toEqual([next.runId]);
    const after = (await (await get('/v1/summaries/latest')).json()) as RunSummaryDocument;
    expect(after.run.id).toBe(next.runId);
    expect(after.run.id).not.toBe(before.run.id);
    expect(after.run.cutoff).toBe('2022-12-31');
    runId = next.runId;
  });

  it('answers conditional GETs: ETag per run and format, 304 while it matches, 200 after a publication', async () => {
    const first = await get('/v1/summaries/latest');
    const etag = first.headers.get('etag') ?? '';
    const body = await first.text();
    expect(etag).toBe(`"${runId}.json"`);
    expect(first.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(first.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(first.headers.get('cache-control')).toBe('private, no-cache');
    expect(first.headers.get('vary')).toMatch(/accept/i);

    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const again = await get('/v1/summaries/latest', { 'if-none-match': ifNoneMatch });
      expect(again.status).toBe(304);
      expect(again.headers.get('etag')).toBe(etag);
      expect(await again.text()).toBe('');
    }
    const byId = await get(`/v1/runs/${runId}/summaries`, { 'if-none-match': etag });
    expect(byId.status).toBe(304);
    const changed = await get('/v1/summaries/latest', { 'if-none-match': '"some-older-run.json"' });
    expect(changed.status).toBe(200);
    expect(await changed.text()).toBe(body);

    // Another representation, another tag: the JSON tag does not validate the CSV.
    const csv = await get('/v1/summaries/latest?format=csv', { 'if-none-match': etag });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('etag')).toBe(`"${runId}.csv"`);

    // Authentication still comes first: no key, no 304.
    const anonymous = await fetch(`${api.url}/v1/summaries/latest`, { headers: { 'if-none-match': etag } });
    expect(anonymous.status).toBe(401);

    const notified = once(api.app.latestRun, 'published');
    const next = await runRecompute(
      api.deps.db,
      api.config,
      { cutoff: '2023-06-30', trigger: 'test' },
      { logger: createLogger('silent') },
    );
    await notified;
    const afterPublication = await get('/v1/summaries/latest', { 'if-none-match': etag });
    expect(afterPublication.status).toBe(200);
    expect(afterPublication.headers.get('etag')).toBe(`"${next.runId}.json"`);
    runId = next.runId;
  });

  it('serves a publication at once while its listening connection is down (reads the database per request)', async () => {
    const tracker = api.app.latestRun;
    const disconnected = once(tracker, 'disconnected');
    await sql`select pg_terminate_backend(pid) from pg_stat_activity
      where application_name = 'survflow-api-listen' and datname = current_database()`.execute(api.deps.db);
    await disconnected;
    const next = await runRecompute(
      api.deps.db,
      api.config,
      { cutoff: '2023-09-30', trigger: 'test' },
      { logger: createLogger('silent') },
    );
    // No waiting for anything: without a listener every request asks PostgreSQL. (Should the
    // listener already be back, it dropped its cache on reconnecting: the answer is the same.)
    const served = (await (await get('/v1/summaries/latest')).json()) as RunSummaryDocument;
    expect(served.run.id).toBe(next.runId);
    runId = next.runId;
    if (!tracker.state.listening) await once(tracker, 'listening');
    expect(((await (await get('/v1/summaries/latest')).json()) as RunSummaryDocument).run.id).toBe(runId);
  });

  it('rate-limits per key with 429, other keys unaffected', async () => {
    const limited = await api.key('chatty', ['query']);
    const statuses: number[] = [];
    for (let i = 0; i < 42; i++) {
      statuses.push(
        (await fetch(`${api.url}/v1/runs?limit=1`, { headers: { 'x-api-key': limited } })).status,
      );
    }
    expect(statuses.slice(0, 40).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(40)).toEqual([429, 429]);
    const refused = await fetch(`${api.url}/v1/runs?limit=1`, { headers: { 'x-api-key': limited } });
    expect(await refused.json()).toMatchObject({ error: 'too many requests' });
    expect((await fetch(`${api.url}/v1/runs?limit=1`, { headers: { 'x-api-key': adminKey } })).status).toBe(
      200,
    );
  });

  it('answers /readyz with 503 when Redis is unreachable', async () => {
    const deadRedis = createRedisConnection('redis://127.0.0.1:1', 'producer', 'survflow-test-dead');
    const deadQueue = new Queue('ingest', { connection: deadRedis, prefix: api.config.queuePrefix });
    const app = await buildServer({
      ...api.deps,
      redis: deadRedis,
      ingestQueue: deadQueue,
      recomputeQueue: deadQueue as never,
    });
    try {
      const response = await app.inject({ method: 'GET', url: '/readyz' });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ status: 'not ready', postgres: 'ok' });
    } finally {
      await app.close();
      deadRedis.disconnect();
    }
  });
});
