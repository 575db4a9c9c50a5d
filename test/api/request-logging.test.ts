import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { analysisParameters } from '../../src/recompute/parameters.js';
import { insertRun, publishRun } from '../../src/recompute/run-store.js';
import { startTestApi, type TestApi } from '../support/api.js';

type LogLine = { msg: string; reqId?: string; req?: { url: string }; res?: { statusCode: number } };

describe('request logging: routine summaries reads are not logged one by one; everything else is', () => {
  let api: TestApi;
  let key: string;
  const lines: LogLine[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const text of chunk.toString().split('\n')) if (text) lines.push(JSON.parse(text) as LogLine);
        done();
      },
    });
    api = await startTestApi({}, { logger: createLogger('info', sink) });
    key = await api.key('analyst', ['query']);
    const run = await insertRun(
      api.deps.db,
      analysisParameters(api.config, '2024-06-30'),
      { trigger: 'test' },
      'test',
    );
    await publishRun(api.deps.db, run.id);
  });
  afterAll(async () => {
    await api?.close();
  });

  const requestId = () => `test-${Math.random().toString(36).slice(2)}`;

  /**
   * The request log lines of one request (by its request id). A request's completion line is
   * written when its response has finished; a second request sent afterwards, whose own
   * completion line is awaited, makes sure the first one's lines have all been written.
   */
  async function logOf(path: string, headers: Record<string, string>) {
    const id = requestId();
    const response = await fetch(`${api.url}${path}`, { headers: { ...headers, 'x-request-id': id } });
    await response.arrayBuffer();
    const sentinel = requestId();
    await (await fetch(`${api.url}/healthz`, { headers: { 'x-request-id': sentinel } })).arrayBuffer();
    const deadline = Date.now() + 5_000;
    while (!lines.some((l) => l.reqId === sentinel && l.msg === 'request completed')) {
      if (Date.now() > deadline) throw new Error('the sentinel request was never logged');
      await new Promise((resolve) => setImmediate(resolve));
    }
    return {
      status: response.status,
      etag: response.headers.get('etag'),
      lines: lines.filter((l) => l.reqId === id),
    };
  }

  it('a summaries read answered 200 or 304 writes no request line', async () => {
    const served = await logOf('/v1/summaries/latest', { 'x-api-key': key });
    expect(served.status).toBe(200);
    expect(served.lines).toEqual([]);
    const notModified = await logOf('/v1/summaries/latest', {
      'x-api-key': key,
      'if-none-match': served.etag ?? '',
    });
    expect(notModified.status).toBe(304);
    expect(notModified.lines).toEqual([]);
  });

  it('a refused summaries read is logged with its status', async () => {
    const refused = await logOf('/v1/summaries/latest', { 'x-api-key': 'sfk_000000000000_not-a-real-key' });
    expect(refused.status).toBe(401);
    expect(refused.lines.map((l) => [l.msg, l.res?.statusCode])).toEqual([['request completed', 401]]);
    const missing = await logOf('/v1/runs/no-such-run/summaries', { 'x-api-key': key });
    expect(missing.status).toBe(404);
    expect(missing.lines.map((l) => [l.msg, l.res?.statusCode])).toContainEqual(['request completed', 404]);
  });

  it('other routes keep both lines', async () => {
    const runs = await logOf('/v1/runs', { 'x-api-key': key });
    expect(runs.status).toBe(200);
    expect(runs.lines.map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
  });
});
