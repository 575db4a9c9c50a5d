import { Queue } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { adminKeyAuthHook, mountQueueDashboard } from '../../src/api/queue-dashboard.js';
import { QUEUE_NAMES } from '../../src/jobs/contracts.js';
import { deleteQueuePrefix, uniqueQueuePrefix } from '../support/test-env.js';

const ADMIN_KEY = 'test-admin-key-0123456789';
const bearer = { authorization: `Bearer ${ADMIN_KEY}` };

describe('queue dashboard under /admin/queues', () => {
  const prefix = uniqueQueuePrefix('dashboard');
  let connection: Redis;
  let queues: Queue[];
  let app: FastifyInstance;

  beforeAll(async () => {
    connection = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    queues = Object.values(QUEUE_NAMES).map((name) => new Queue(name, { connection, prefix }));
    await queues[1]?.add('recompute', { trigger: 'test' });
    app = Fastify();
    app.get('/health', async () => ({ ok: true }));
    await mountQueueDashboard(app, queues, adminKeyAuthHook(ADMIN_KEY));
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    for (const queue of queues ?? []) await queue.close();
    await connection?.quit();
    await deleteQueuePrefix(prefix);
  });

  it('refuses every dashboard route without the admin key, with a Basic challenge', async () => {
    for (const url of [
      '/admin/queues',
      '/admin/queues/api/queues',
      '/admin/queues/static/favicon-32x32.png',
    ]) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Basic /);
    }
    const wrong = await app.inject({
      method: 'GET',
      url: '/admin/queues',
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.statusCode).toBe(401);
  });

  it('leaves the rest of the application alone', async () => {
    const response = await app.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
  });

  it('serves the dashboard page to the admin, by bearer token or Basic password', async () => {
    const page = await app.inject({ method: 'GET', url: '/admin/queues', headers: bearer });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('survflow queues');
    const basic = Buffer.from(`operator:${ADMIN_KEY}`).toString('base64');
    const viaBasic = await app.inject({
      method: 'GET',
      url: '/admin/queues',
      headers: { authorization: `Basic ${basic}` },
    });
    expect(viaBasic.statusCode).toBe(200);
    const asset = await app.inject({
      method: 'GET',
      url: '/admin/queues/static/favicon-32x32.png',
      headers: bearer,
    });
    expect(asset.statusCode).toBe(200);
  });

  it('lists the queues and their jobs through its API', async () => {
    const response = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: bearer });
    expect(response.statusCode).toBe(200);
    const body = response.json() as { queues: { name: string; counts: Record<string, number> }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual(['ingest', 'recompute']);
    const recompute = body.queues.find((q) => q.name === 'recompute');
    expect(recompute?.counts.waiting).toBe(1);
  });

  it('rejects an admin key too short to be a secret', () => {
    expect(() => adminKeyAuthHook('short')).toThrow(/at least 16/);
  });
});
