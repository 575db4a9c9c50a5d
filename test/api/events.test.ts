import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IntakeAnswer } from '../../src/api/intake.js';
import { revokeSourceOrKey } from '../../src/auth/api-keys.js';
import { startTestApi, type TestApi, waitForBatch } from '../support/api.js';

function event(overrides: Record<string, unknown> = {}) {
  return {
    eventId: 'reg-1',
    source: 'ehr',
    type: 'patient.registered',
    schemaVersion: 1,
    patientId: 'MRN-001',
    occurredOn: '2020-01-10',
    payload: { histology: 'ESCC', diseaseSetting: 'metastatic', diagnosedOn: '2020-01-10' },
    ...overrides,
  };
}

const cycle = (n: number, overrides: Record<string, unknown> = {}) =>
  event({
    eventId: `cyc-${n}`,
    type: 'immunotherapy.cycle',
    occurredOn: `2020-02-${String(n).padStart(2, '0')}`,
    payload: { line: 1, cycleNumber: n, agent: 'camrelizumab' },
    ...overrides,
  });

describe('HTTP intake: POST /v1/events and GET /v1/batches/:id', () => {
  let api: TestApi;
  let ingestKey: string;
  let otherKey: string;
  let queryKey: string;
  let adminKey: string;

  beforeAll(async () => {
    api = await startTestApi({ API_BODY_LIMIT_BYTES: '20000' });
    await api.startIngestWorker();
    ingestKey = await api.key('ehr', ['ingest']);
    otherKey = await api.key('oncology-is', ['ingest']);
    queryKey = await api.key('analyst', ['query']);
    adminKey = await api.key('ops', ['admin']);
  });
  afterAll(async () => {
    await api?.close();
  });

  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${api.url}/v1/events`, { method: 'POST', body, headers });

  it('refuses requests without a key, with a bad key, with a revoked key (401) and with the wrong scope (403)', async () => {
    const body = JSON.stringify([event()]);
    const json = { 'content-type': 'application/json' };
    expect((await post(body, json)).status).toBe(401);
    expect((await post(body, { ...json, authorization: 'Bearer nonsense' })).status).toBe(401);
    const forged = `${ingestKey.slice(0, -4)}AAAA`;
    const forgedAnswer = await post(body, { ...json, authorization: `Bearer ${forged}` });
    expect(forgedAnswer.status).toBe(401);
    expect(await forgedAnswer.json()).toMatchObject({ message: 'API key refused: unknown key' });

    const doomed = await api.key('short-lived', ['ingest']);
    expect((await post(JSON.stringify([]), { ...json, 'x-api-key': doomed })).status).toBe(202);
    await revokeSourceOrKey(api.deps.db, 'short-lived');
    const revoked = await post(body, { ...json, 'x-api-key': doomed });
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toMatchObject({ message: 'API key refused: revoked key' });

    const wrongScope = await post(body, { ...json, authorization: `Bearer ${queryKey}` });
    expect(wrongScope.status).toBe(403);
    expect((await fetch(`${api.url}/v1/runs`, { headers: { 'x-api-key': ingestKey } })).status).toBe(403);
    expect(
      (await fetch(`${api.url}/v1/recompute`, { method: 'POST', headers: { 'x-api-key': queryKey } })).status,
    ).toBe(403);
  });

  it('accepts a JSON array, validates at the edge, and the account adds up once processed', async () => {
    const items = [
      event(),
      cycle(1),
      cycle(2, { source: undefined }), // no source: attributed to the key's source
      cycle(3, { payload: { line: 1, cycleNumber: 'three', agent: 'camrelizumab' } }),
      cycle(4, { source: 'oncology-is' }), // claims another source
    ].map((e) => JSON.parse(JSON.stringify(e)));
    const response = await post(JSON.stringify(items), {
      'content-type': 'application/json',
      authorization: `Bearer ${ingestKey}`,
    });
    expect(response.status).toBe(202);
    const answer = (await response.json()) as IntakeAnswer;
    expect(answer).toMatchObject({
      status: 'enqueued',
      received: 5,
      enqueued: 3,
      rejectedAtEdge: 2,
      replayed: false,
    });
    expect(answer.rejections.map((r) => r.index)).toEqual([3, 4]);
    expect(answer.rejections[0]?.reasons[0]?.path).toBe('payload.cycleNumber');
    expect(answer.rejections[1]?.reasons[0]?.message).toMatch(/source mismatch/);

    const account = await waitForBatch(api, ingestKey, answer.batchId);
    expect(account).toMatchObject({ submitted: 5, accepted: 3, duplicate: 0, rejected: 2 });
    const ledger = await api.deps.db
      .selectFrom('events')
      .select(['source', 'event_id'])
      .orderBy('event_id')
      .execute();
    expect(ledger).toEqual([
      { source: 'ehr', event_id: 'cyc-1' },
      { source: 'ehr', event_id: 'cyc-2' },
      { source: 'ehr', event_id: 'reg-1' },
    ]);
    // The edge rejections are stored with their raw body, like worker rejections.
    const rejected = await api.deps.db
      .selectFrom('rejected_events')
      .select(['line_number', 'reasons'])
      .execute();
    expect(rejected.map((r) => r.line_number).sort()).toEqual([4, 5]);

    // Another source cannot read this account; an admin can.
    const foreign = await fetch(`${api.url}/v1/batches/${answer.batchId}`, {
      headers: { 'x-api-key': otherKey },
    });
    expect(foreign.status).toBe(404);
    const admin = await fetch(`${api.url}/v1/batches/${answer.batchId}`, {
      headers: { 'x-api-key': adminKey },
    });
    expect(admin.status).toBe(200);
  });

  it('accepts NDJSON, rejects malformed lines per line number, and accounts for every line', async () => {
    const body = [
      JSON.stringify(cycle(5)),
      '{"eventId": "broken", ',
      '',
      JSON.stringify(cycle(6)),
      'not json at all',
    ].join('\n');
    const response = await post(body, {
      'content-type': 'application/x-ndjson',
      authorization: `Bearer ${ingestKey}`,
    });
    expect(response.status).toBe(202);
    const answer = (await response.json()) as IntakeAnswer;
    expect(answer).toMatchObject({ received: 4, enqueued: 2, rejectedAtEdge: 2 });
    expect(answer.rejections.map((r) => r.line)).toEqual([2, 5]);
    expect(answer.rejections[0]?.reasons).toEqual([{ path: '(line)', message: 'not valid JSON' }]);
    const account = await waitForBatch(api, ingestKey, answer.batchId);
    expect(account).toMatchObject({ submitted: 4, accepted: 2, rejected: 2 });
    expect((account.rejections as { line: number }[]).map((r) => r.line)).toEqual([2, 5]);
  });

  it('answers a malformed JSON body with 400 and an oversized body with 413, as JSON', async () => {
    const bad = await post('[{"eventId": ', {
      'content-type': 'application/json',
      authorization: `Bearer ${ingestKey}`,
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'bad request' });
    const big = JSON.stringify(Array.from({ length: 200 }, (_, i) => cycle(i + 1)));
    expect(big.length).toBeGreaterThan(20_000);
    const tooLarge = await post(big, {
      'content-type': 'application/json',
      authorization: `Bearer ${ingestKey}`,
    });
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({ error: 'payload too large' });
    // The server is still fine.
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
  });

  it('is idempotent: a re-send maps to the same submission and enqueues nothing twice', async () => {
    const body = JSON.stringify([cycle(7), cycle(8)]);
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${ingestKey}` };
    const first = (await (await post(body, headers)).json()) as IntakeAnswer;
    await waitForBatch(api, ingestKey, first.batchId);
    const again = (await (await post(body, headers)).json()) as IntakeAnswer;
    expect(again.batchId).toBe(first.batchId);
    expect(again.replayed).toBe(true);
    const account = await waitForBatch(api, ingestKey, first.batchId);
    expect(account).toMatchObject({ submitted: 2, accepted: 2, duplicate: 0 });

    const keyed = { ...headers, 'idempotency-key': 'delivery-42' };
    const a = (await (await post(JSON.stringify([cycle(9)]), keyed)).json()) as IntakeAnswer;
    const b = (await (await post(JSON.stringify([cycle(9)]), keyed)).json()) as IntakeAnswer;
    expect(b).toMatchObject({ batchId: a.batchId, replayed: true });
    const conflict = await post(JSON.stringify([cycle(10)]), keyed);
    expect(conflict.status).toBe(422);
    // The same events under a new key are accounted as duplicates, not stored twice.
    const resend = (await (
      await post(body, { ...headers, 'idempotency-key': 'other' })
    ).json()) as IntakeAnswer;
    expect(await waitForBatch(api, ingestKey, resend.batchId)).toMatchObject({ accepted: 0, duplicate: 2 });
  });

  it("refuses a retraction of another source's event, and a retraction claiming another source", async () => {
    const theirs = event({ eventId: 'onc-reg-1', source: 'oncology-is' });
    const sent = await post(JSON.stringify([theirs]), {
      'content-type': 'application/json',
      'x-api-key': otherKey,
    });
    await waitForBatch(api, otherKey, ((await sent.json()) as IntakeAnswer).batchId);

    const retract = (source: string) =>
      event({
        eventId: `retract-${source}`,
        source,
        type: 'event.retracted',
        payload: { targetEventId: 'onc-reg-1', reason: 'wrong patient' },
      });
    const response = await post(JSON.stringify([retract('ehr'), retract('oncology-is')]), {
      'content-type': 'application/json',
      authorization: `Bearer ${ingestKey}`,
    });
    const answer = (await response.json()) as IntakeAnswer;
    expect(answer.rejectedAtEdge).toBe(2);
    expect(answer.rejections[0]?.reasons[0]?.message).toMatch(/sent by another source/);
    expect(answer.rejections[1]?.reasons[0]?.message).toMatch(/source mismatch/);
    const account = await waitForBatch(api, ingestKey, answer.batchId);
    expect(account).toMatchObject({ accepted: 0, rejected: 2 });
    const retractions = await api.deps.db
      .selectFrom('events')
      .where('type', '=', 'event.retracted')
      .execute();
    expect(retractions).toEqual([]);
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    expect(await (await fetch(`${api.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${api.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', postgres: 'ok', redis: 'ok' });
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/survflow_events_total\{outcome="accepted"\} \d+/);
    expect(metrics).toMatch(/survflow_queue_jobs\{queue="ingest",state="waiting"\} \d+/);
    expect(metrics).toMatch(
      /survflow_api_intake_items_total\{channel="http",outcome="rejected_at_edge"\} \d+/,
    );
    expect(metrics).toMatch(/survflow_job_duration_seconds\{queue="ingest",quantile="0.5"\}/);
    const openapi = (await (await fetch(`${api.url}/openapi.json`)).json()) as { paths: object };
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining([
        '/v1/events',
        '/fhir/Bundle',
        '/v1/batches/{id}',
        '/v1/summaries/latest',
        '/v1/runs',
      ]),
    );
    expect((await fetch(`${api.url}/docs/`)).status).toBe(200);
  });
});
