import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { patientKey } from '../../src/crypto/pseudonym.js';
import { decryptRawBody } from '../../src/crypto/raw-body-cipher.js';
import { UnknownSubmissionError } from '../../src/errors.js';
import { getSubmissionAccount, openSubmission, sealSubmission } from '../../src/ingest/submission.js';
import { writeIngestBatch } from '../../src/ingest/write-batch.js';
import { makeCohort, makeEvent, toLines } from '../support/events.js';
import { jobOf, ledgerSnapshot } from '../support/ingest.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

let testDb: TestDatabase;
let config: Config;
let counter = 0;

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url });
});
afterAll(async () => {
  await testDb.close();
});

const options = () => ({ pseudonymKey: config.pseudonymKey, rejectedBodyKey: config.rejectedBodyKey });

async function newSubmission(source: string | null = null): Promise<string> {
  counter++;
  const { id } = await openSubmission(testDb.db, { id: `sub-${counter}`, channel: 'cli', source });
  return id;
}

async function writeAll(lines: string[], batchSize: number, source: string | null = null) {
  const id = await newSubmission(source);
  let batchIndex = 0;
  for (let i = 0; i < lines.length; i += batchSize) {
    await writeIngestBatch(
      testDb.db,
      options(),
      jobOf(id, batchIndex++, lines.slice(i, i + batchSize), { firstLine: i + 1, source }),
    );
  }
  await sealSubmission(testDb.db, id, { batchCount: batchIndex, eventCount: lines.length });
  return getSubmissionAccount(testDb.db, id, { firstRejections: 100 });
}

describe('writeIngestBatch', () => {
  const cohort = makeCohort(5, 3, 'batch-src');
  const lines = toLines(cohort);

  it('accepts a new file, then reports a re-ingest as all duplicates with the ledger unchanged', async () => {
    const first = await writeAll(lines, 7);
    expect(first).toMatchObject({ complete: true, submitted: 20, accepted: 20, duplicate: 0, rejected: 0 });
    const before = await ledgerSnapshot(testDb.db);
    expect(before.filter((r) => r.source === 'batch-src')).toHaveLength(20);

    const again = await writeAll(lines, 6);
    expect(again).toMatchObject({ complete: true, submitted: 20, accepted: 0, duplicate: 20, rejected: 0 });
    expect(await ledgerSnapshot(testDb.db)).toEqual(before);
  });

  it('stores pseudonymized, validated rows', async () => {
    const row = await testDb.db
      .selectFrom('events')
      .selectAll()
      .where('source', '=', 'batch-src')
      .where('event_id', '=', 'cyc-2-3')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      type: 'immunotherapy.cycle',
      schema_version: 1,
      occurred_on: '2020-04-01',
      payload: { line: 1, cycleNumber: 3, agent: 'tislelizumab' },
      patient_key: patientKey(config.pseudonymKey, 'MRN-RAW-000002'),
    });
  });

  it('rejects a conflicting redelivery with a clear reason and keeps the first version', async () => {
    const changed = makeEvent('immunotherapy.cycle', {
      eventId: 'cyc-1-1',
      source: 'batch-src',
      patientId: 'MRN-RAW-000001',
      occurredOn: '2020-02-01',
      payload: { line: 1, cycleNumber: 1, agent: 'nivolumab' },
    });
    const account = await writeAll([JSON.stringify(changed)], 10);
    expect(account).toMatchObject({ accepted: 0, duplicate: 0, rejected: 1 });
    expect(account.rejections[0]).toMatchObject({ line: 1, eventId: 'cyc-1-1', kind: 'conflict' });
    expect(account.rejections[0]?.reasons[0]?.message).toBe(
      'event cyc-1-1 from batch-src was already received with different content; send event.retracted and a new event to correct it',
    );
    const kept = await testDb.db
      .selectFrom('events')
      .select('payload')
      .where('source', '=', 'batch-src')
      .where('event_id', '=', 'cyc-1-1')
      .executeTakeFirstOrThrow();
    expect(kept.payload).toMatchObject({ agent: 'tislelizumab' });
  });

  it('classifies duplicates and conflicts within one batch', async () => {
    const a = makeEvent('followup.contact', { eventId: 'fu-a', source: 'within', occurredOn: '2021-01-01' });
    const aChanged = { ...a, occurredOn: '2021-01-02' };
    const b = makeEvent('death.recorded', { eventId: 'fu-b', source: 'within' });
    const account = await writeAll(toLines([a, a, aChanged, b, a, aChanged]), 100);
    expect(account).toMatchObject({ submitted: 6, accepted: 2, duplicate: 2, rejected: 2 });
    expect(account.rejections.map((r) => [r.line, r.kind])).toEqual([
      [3, 'conflict'],
      [6, 'conflict'],
    ]);
    const stored = await testDb.db
      .selectFrom('events')
      .select('occurred_on')
      .where('source', '=', 'within')
      .where('event_id', '=', 'fu-a')
      .execute();
    expect(stored).toEqual([{ occurred_on: '2021-01-01' }]);
  });

  it('accounts for every malformed line: accepted + duplicate + rejected = lines sent', async () => {
    const ok = makeEvent('followup.contact', { eventId: 'm-1', source: 'malformed' });
    const input = [
      JSON.stringify(ok),
      '{"eventId":"m-2","source":"malformed",',
      'not json',
      JSON.stringify(
        makeEvent('followup.contact', { eventId: 'm-3', source: 'malformed', occurredOn: '2020-02-30' }),
      ),
      JSON.stringify({
        ...makeEvent('followup.contact', { eventId: 'm-4', source: 'malformed' }),
        type: 'x.y',
      }),
      JSON.stringify(ok),
      '42',
      '[]',
      'null',
    ];
    const account = await writeAll(input, 4);
    expect(account.accepted + account.duplicate + account.rejected).toBe(input.length);
    expect(account).toMatchObject({ submitted: 9, accepted: 1, duplicate: 1, rejected: 7, processed: 9 });
    expect(account.reasonCounts['(line): not valid JSON']).toBe(2);
    expect(account.reasonCounts['occurredOn: not a calendar date']).toBe(1);
    expect(account.rejections.map((r) => r.line)).toEqual([2, 3, 4, 5, 7, 8, 9]);
    expect(account.rejections[2]).toMatchObject({ eventId: 'm-3', eventType: 'followup.contact' });
  });

  it('keeps the raw body of a rejected input encrypted, and it decrypts to the line sent', async () => {
    const raw = '{"eventId":"enc-1","patientId":"MRN-SECRET-77", broken';
    await writeAll([raw], 1);
    const row = await testDb.db
      .selectFrom('rejected_events')
      .select(['raw_body', 'event_id', 'kind'])
      .where('line_number', '=', 1)
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(row.raw_body.includes(Buffer.from('MRN-SECRET-77'))).toBe(false);
    expect(decryptRawBody(config.rejectedBodyKey, row.raw_body)).toBe(raw);
    expect(row.kind).toBe('invalid');
  });

  it('rejects events claiming another source than the submission', async () => {
    const mine = makeEvent('followup.contact', { eventId: 's-1', source: 'ehr' });
    const theirs = makeEvent('followup.contact', { eventId: 's-2', source: 'oncology' });
    const account = await writeAll(toLines([mine, theirs]), 10, 'ehr');
    expect(account).toMatchObject({ accepted: 1, rejected: 1 });
    expect(account.rejections[0]?.reasons[0]?.message).toMatch(/source mismatch/);
  });

  it('a retry after commit writes nothing and returns the recorded account', async () => {
    const id = await newSubmission();
    const job = jobOf(
      id,
      0,
      toLines([makeEvent('followup.contact', { eventId: 'r-1', source: 'retry' }), 'bad']),
    );
    const first = await writeIngestBatch(testDb.db, options(), job);
    expect(first).toMatchObject({ accepted: 1, duplicate: 0, rejected: 1, alreadyRecorded: false });
    const before = await ledgerSnapshot(testDb.db);
    const rejectedBefore = await testDb.db.selectFrom('rejected_events').select('id').execute();
    const retry = await writeIngestBatch(testDb.db, options(), job);
    expect(retry).toEqual({ ...first, alreadyRecorded: true });
    expect(await ledgerSnapshot(testDb.db)).toEqual(before);
    expect(await testDb.db.selectFrom('rejected_events').select('id').execute()).toEqual(rejectedBefore);
  });

  it('two deliveries of the same batch at once are written once', async () => {
    const id = await newSubmission();
    const job = jobOf(id, 0, toLines(makeCohort(3, 1, 'twice')));
    const results = await Promise.all([
      writeIngestBatch(testDb.db, options(), job),
      writeIngestBatch(testDb.db, options(), job),
    ]);
    expect(results.map((r) => r.alreadyRecorded).sort()).toEqual([false, true]);
    expect(results.every((r) => r.accepted === 6)).toBe(true);
  });

  it('concurrent batches with overlapping events: each event accepted exactly once', async () => {
    const events = toLines(makeCohort(20, 4, 'race'));
    const [a, b, c] = [await newSubmission(), await newSubmission(), await newSubmission()];
    const accounts = await Promise.all([
      writeIngestBatch(testDb.db, options(), jobOf(a, 0, events)),
      writeIngestBatch(testDb.db, options(), jobOf(b, 0, [...events].reverse())),
      writeIngestBatch(testDb.db, options(), jobOf(c, 0, events.slice(10, 60))),
    ]);
    const accepted = accounts.reduce((n, x) => n + x.accepted, 0);
    const duplicate = accounts.reduce((n, x) => n + x.duplicate, 0);
    expect(accepted).toBe(events.length);
    expect(duplicate).toBe(events.length + 50);
    expect(accounts.every((x) => x.rejected === 0)).toBe(true);
  });

  it('refuses a batch of a submission that does not exist', async () => {
    await expect(
      writeIngestBatch(testDb.db, options(), jobOf('no-such-submission', 0, ['{}'])),
    ).rejects.toBeInstanceOf(UnknownSubmissionError);
  });

  it('an unsealed submission, or one with a batch missing, is not complete', async () => {
    const id = await newSubmission();
    await writeIngestBatch(testDb.db, options(), jobOf(id, 1, ['x']));
    expect((await getSubmissionAccount(testDb.db, id)).complete).toBe(false);
    await sealSubmission(testDb.db, id, { batchCount: 2, eventCount: 2 });
    const account = await getSubmissionAccount(testDb.db, id);
    expect(account).toMatchObject({ complete: false, pendingBatches: [0], batchesAccounted: 1 });
  });

  it('leaves no raw patient identifier anywhere in the database', async () => {
    // Every patient id used in this file (events accepted, duplicated, conflicting, rejected).
    const patientIds = ['MRN-000001', 'MRN-SECRET-77', 'MRN-RAW-0000'];
    const scan = await findInDatabase(patientIds);
    expect(scan.scannedRows).toBeGreaterThan(100);
    expect(scan.hits).toEqual([]);
    // The scan itself finds a planted identifier (a test that cannot fail proves nothing).
    await openSubmission(testDb.db, {
      id: 'planted',
      channel: 'cli',
      source: null,
      description: 'MRN-000001',
    });
    expect((await findInDatabase(patientIds)).hits).toEqual(['ingest_submissions.description']);
  });
});

/** Every text, json and bytea column of every table, searched for the given strings. */
async function findInDatabase(needles: string[]): Promise<{ hits: string[]; scannedRows: number }> {
  const { rows: columns } = await sql<{ table_name: string; column_name: string; data_type: string }>`
    select table_name, column_name, data_type from information_schema.columns
    where table_schema = 'public' and data_type in ('text', 'character varying', 'jsonb', 'json', 'bytea')`.execute(
    testDb.db,
  );
  expect(columns.length).toBeGreaterThan(10);
  const hits = new Set<string>();
  let scannedRows = 0;
  for (const column of columns) {
    const value =
      column.data_type === 'bytea'
        ? sql`encode(${sql.ref(column.column_name)}, 'escape')`
        : sql`${sql.ref(column.column_name)}::text`;
    const { rows } = await sql<{
      v: string | null;
    }>`select ${value} as v from ${sql.table(column.table_name)}`.execute(testDb.db);
    scannedRows += rows.length;
    for (const row of rows) {
      if (needles.some((needle) => (row.v ?? '').includes(needle)))
        hits.add(`${column.table_name}.${column.column_name}`);
    }
  }
  return { hits: [...hits], scannedRows };
}
