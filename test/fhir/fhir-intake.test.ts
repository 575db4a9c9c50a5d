import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IntakeAnswer } from '../../src/api/intake.js';
import { startTestApi, type TestApi, waitForBatch } from '../support/api.js';
import { ledgerSnapshot } from '../support/ingest.js';
import { cycleAdministration, patientHistoryBundle, patientHistoryEvents } from './fixtures.js';

describe('POST /fhir/Bundle', () => {
  let api: TestApi;
  let key: string;

  beforeAll(async () => {
    api = await startTestApi();
    await api.startIngestWorker();
    key = await api.key('ehr', ['ingest']);
  });
  afterAll(async () => {
    await api?.close();
  });

  const postBundle = (bundle: unknown) =>
    fetch(`${api.url}/fhir/Bundle`, {
      method: 'POST',
      body: JSON.stringify(bundle),
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${key}` },
    });

  it('produces the same ledger as the equivalent NDJSON, and accounts for unmappable resources', async () => {
    const bundle = patientHistoryBundle();
    const unmappable = { ...cycleAdministration('ma-bad', 4, '2020-04-04'), extension: [] };
    bundle.entry.push({ resource: unmappable } as never);
    const response = await postBundle(bundle);
    expect(response.status).toBe(202);
    const answer = (await response.json()) as IntakeAnswer;
    expect(answer).toMatchObject({ received: 9, enqueued: 8, rejectedAtEdge: 1 });
    expect(answer.rejections[0]).toMatchObject({ resource: 'MedicationAdministration/ma-bad' });
    expect(answer.rejections[0]?.reasons[0]?.message).toMatch(
      /^MedicationAdministration\/ma-bad: missing: the line of therapy/,
    );
    const account = await waitForBatch(api, key, answer.batchId);
    expect(account).toMatchObject({ submitted: 9, accepted: 8, duplicate: 0, rejected: 1 });
    expect(Object.keys(account.reasonCounts as object)[0]).toMatch(/treatment-line/);
    const afterFhir = await ledgerSnapshot(api.deps.db);

    // The same history as NDJSON from the same source: every event is a duplicate (same
    // (source, eventId) and the same content hash), and the ledger does not change.
    const ndjson = patientHistoryEvents('ehr')
      .map((e) => JSON.stringify(e))
      .join('\n');
    const sent = await fetch(`${api.url}/v1/events`, {
      method: 'POST',
      body: ndjson,
      headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${key}` },
    });
    const ndjsonAccount = await waitForBatch(api, key, ((await sent.json()) as IntakeAnswer).batchId);
    expect(ndjsonAccount).toMatchObject({ submitted: 8, accepted: 0, duplicate: 8, rejected: 0 });
    expect(await ledgerSnapshot(api.deps.db)).toEqual(afterFhir);
    expect(afterFhir.map((row) => row.event_id).sort()).toEqual(
      patientHistoryEvents('ehr')
        .map((e) => e.eventId)
        .sort(),
    );
  });

  it('answers a body that is not a Bundle with 400', async () => {
    const notBundle = await postBundle({ resourceType: 'Patient', id: 'p1' });
    expect(notBundle.status).toBe(400);
    const searchset = await postBundle({ resourceType: 'Bundle', type: 'searchset', entry: [] });
    expect(searchset.status).toBe(400);
    expect(await searchset.json()).toMatchObject({ message: expect.stringMatching(/searchset/) });
  });
});
