import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.js';

/** bull-board under /admin/queues of the real API server, behind keys with the admin scope. */
describe('queue dashboard under /admin/queues', () => {
  let api: TestApi;
  let adminKey: string;
  let queryKey: string;

  beforeAll(async () => {
    api = await startTestApi();
    adminKey = await api.key('ops', ['admin']);
    queryKey = await api.key('analyst', ['query']);
    await api.deps.recomputeQueue.add('recompute', {
      trigger: 'test',
      requestedAt: new Date().toISOString(),
    });
  });

  afterAll(async () => {
    await api?.close();
  });

  const get = (url: string, authorization?: string) =>
    api.app.inject({ method: 'GET', url, headers: authorization ? { authorization } : {} });

  it('refuses every dashboard route without a key, with a challenge a browser answers', async () => {
    for (const url of [
      '/admin/queues',
      '/admin/queues/api/queues',
      '/admin/queues/static/favicon-32x32.png',
    ]) {
      const response = await get(url);
      expect(response.statusCode, url).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/Basic realm=/);
    }
    expect((await get('/admin/queues', 'Bearer nope')).statusCode).toBe(401);
  });

  it('refuses a key without the admin scope', async () => {
    expect((await get('/admin/queues', `Bearer ${queryKey}`)).statusCode).toBe(403);
  });

  it('serves the dashboard page to an admin key, by bearer token or Basic password', async () => {
    const page = await get('/admin/queues', `Bearer ${adminKey}`);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('survflow queues');
    const basic = Buffer.from(`operator:${adminKey}`).toString('base64');
    expect((await get('/admin/queues', `Basic ${basic}`)).statusCode).toBe(200);
    expect((await get('/admin/queues/static/favicon-32x32.png', `Bearer ${adminKey}`)).statusCode).toBe(200);
  });

  it('lists the queues and their jobs through its API', async () => {
    const response = await get('/admin/queues/api/queues', `Bearer ${adminKey}`);
    expect(response.statusCode).toBe(200);
    const body = response.json() as { queues: { name: string; counts: Record<string, number> }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual(['ingest', 'recompute']);
    const recompute = body.queues.find((q) => q.name === 'recompute');
    expect(recompute?.counts.waiting).toBe(1);
  });

  it('serves the report only with a query or admin key', async () => {
    expect((await get('/report')).statusCode).toBe(401);
    // No run is published in this database: authenticated, then a clear 404.
    expect((await get('/report', `Bearer ${queryKey}`)).statusCode).toBe(404);
    expect((await get('/v1/runs/latest/plots/cycles.svg', `Bearer ${adminKey}`)).statusCode).toBe(404);
  });
});
