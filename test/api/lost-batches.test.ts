import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSubmission, sealSubmission } from '../../src/ingest/submission.js';
import { startTestApi, type TestApi } from '../support/api.js';

/**
 * What GET /v1/batches/:id says when the batches of a sealed submission are no longer in Redis
 * (a Redis restart without persistence between enqueue and processing; the fault suite does
 * the real restart with the CLI): they are counted as lost, not left "pending" forever.
 */
describe('GET /v1/batches/:id after Redis lost the batches', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api?.close();
  });

  it('reports the lost batches', async () => {
    const key = await api.key('lost-src', ['ingest']);
    const opened = await openSubmission(api.deps.db, { channel: 'http', source: 'lost-src' });
    // Sealed with 3 batches that are not (any more) in Redis.
    await sealSubmission(api.deps.db, opened.id, { batchCount: 3, eventCount: 30 });
    const answer = await fetch(`${api.url}/v1/batches/${opened.id}`, { headers: { 'x-api-key': key } });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({
      status: 'pending',
      submitted: 30,
      processed: 0,
      pendingJobs: 3,
      lostJobs: 3,
      failedJobs: 0,
    });
  });
});
