import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptRawBody } from '../../src/crypto/raw-body-cipher.js';
import { classifyItem } from '../../src/ingest/classify-item.js';
import { writeIngestBatch } from '../../src/ingest/write-batch.js';
import { createTestDatabase, type TestDatabase } from '../support/test-env.js';

/**
 * Property-based fuzzing of the intake: >= 10,000 generated hostile inputs through the contract
 * validator (classifyItem) and ~1,500 through the batch writer into PostgreSQL. No crash, every
 * input accounted accepted or rejected with a reason, reasons storable and never echoing the
 * patient id, stored text verbatim, prototypes untouched.
 */

const PSEUDONYM_KEY = 'fuzz-pseudonym-key-0123456789';
const BODY_KEY = Buffer.alloc(32, 7);
const options = { pseudonymKey: PSEUDONYM_KEY, expectedSource: null };

const NASTY = [
  "'; drop table events; --",
  "Robert'); DELETE FROM events WHERE ('1'='1",
  '$$; select pg_sleep(10); $$',
  '\\x00\\u0000',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00y',
  '\u202e\u200b\ufeff',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍⚕️ 食道癌',
  '__proto__',
  'constructor',
  'prototype',
  '{"$ne":null}',
  '%s%n%x',
  '../../etc/passwd',
  'x'.repeat(100_001),
  '2021-02-30',
  '0000-00-00',
  '2021-13-01',
  '+002021-01-01',
  'NaN',
  '',
  ' ',
];

const hostileString = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })).map(([a, b]) => `${a}\u0000${b}`),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(null, true, false, 0, -1, 1e308, -0, 2 ** 53 + 1, 1.5),
  fc.double(),
  fc.anything({ maxDepth: 4, key: fc.oneof(hostileString, fc.constantFrom('__proto__', 'constructor')) }),
  fc
    .integer({ min: 1, max: 200 })
    .map((depth) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as unknown),
);

const baseEvent = (eventId: string, patientId: string) => ({
  eventId,
  source: 'fuzz',
  type: 'immunotherapy.cycle',
  schemaVersion: 1,
  patientId,
  occurredOn: '2021-03-04',
  payload: { line: 1, cycleNumber: 2, agent: 'camrelizumab', regimen: 'camrelizumab + paclitaxel' },
});

const FIELDS = [
  'eventId',
  'source',
  'type',
  'schemaVersion',
  'patientId',
  'occurredOn',
  'payload',
  'payload.line',
  'payload.cycleNumber',
  'payload.agent',
  'payload.regimen',
  '__proto__',
  'constructor',
  'payload.__proto__',
  'extra',
] as const;

/** A valid event with one field replaced (or added) by a hostile value, as JSON text. */
const mutatedEvent = fc
  .record({
    id: fc.nat(),
    field: fc.constantFrom(...FIELDS),
    value: hostileValue,
    patientTag: fc.stringMatching(/^[A-Z0-9]{6}$/),
  })
  .map(({ id, field, value, patientTag }) => {
    const patientId = `PID-${patientTag}-SECRET`;
    const event = baseEvent(`fz-${id}`, patientId) as Record<string, unknown>;
    let text = JSON.stringify(event);
    // Through JSON text, so "__proto__" becomes an own key, as it would arrive on the wire.
    const encoded = JSON.stringify(value) ?? 'null';
    if (field.startsWith('payload.')) {
      const key = field.slice('payload.'.length);
      text = text.replace('"payload":{', `"payload":{${JSON.stringify(key)}:${encoded},`);
    } else {
      text = text.replace(/^\{/, `{${JSON.stringify(field)}:${encoded},`);
    }
    return { raw: text, patientId };
  });

/** Any text at all as a raw line: truncated JSON, binary, deep nesting. */
const rawLine = fc.oneof(
  hostileString,
  fc.json({ maxDepth: 5 }),
  fc.nat(3000).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  fc.nat(3000).map((depth) => '['.repeat(depth)),
);

function isStorable(text: string): boolean {
  return (
    !text.includes('\u0000') &&
    !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)
  );
}

const prototypeKeys = () => Object.getOwnPropertyNames(Object.prototype).sort();

describe('hostile input through the contract validator (pure)', () => {
  const before = prototypeKeys();

  it('mutated events (6,000): no throw, rejected with storable reasons that never quote the patient id', () => {
    fc.assert(
      fc.property(mutatedEvent, ({ raw, patientId }) => {
        const result = classifyItem({ line: 1, raw }, 0, options);
        if (result.kind === 'valid') return; // e.g. a harmless optional field made valid
        expect(result.reasons.length).toBeGreaterThan(0);
        const reasons = JSON.stringify(result.reasons);
        expect(reasons).not.toContain(patientId);
        for (const r of result.reasons) expect(isStorable(r.path) && isStorable(r.message)).toBe(true);
        for (const f of [result.source, result.eventId, result.eventType]) {
          if (f !== null) expect(isStorable(f)).toBe(true);
        }
      }),
      { numRuns: 6_000 },
    );
  });

  it('raw lines (4,000): no throw, every one accounted valid or invalid with a reason', () => {
    fc.assert(
      fc.property(rawLine, (raw) => {
        const result = classifyItem({ line: 1, raw }, 0, options);
        if (result.kind === 'invalid') expect(result.reasons.length).toBeGreaterThan(0);
        else expect(result.kind).toBe('valid');
      }),
      { numRuns: 4_000 },
    );
  });

  it('leaves Object.prototype untouched', () => {
    expect(prototypeKeys()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('hostile input through the batch writer (PostgreSQL)', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase();
  });
  afterAll(async () => {
    await testDb?.close();
  });

  it('accounts every item of hostile batches, keeps raw bodies, stores accepted text verbatim', async () => {
    await testDb.db
      .insertInto('ingest_submissions')
      .values({ id: 'fuzz', channel: 'cli', source: null })
      .execute();
    // Free text that must survive byte for byte, outer whitespace included: no NUL / lone surrogate.
    const storableText = hostileString
      .map((s) => s.slice(0, 100))
      .filter((s) => s.trim().length > 0 && isStorable(s));
    const acceptedEvent = fc
      .record({ eventId: storableText, agent: storableText, regimen: storableText, n: fc.nat() })
      .map(({ eventId, agent, regimen, n }) => ({
        ...baseEvent(`${eventId}#${n}`, `PID-ACC-${n}`),
        payload: { line: 1, cycleNumber: 1, agent, regimen },
      }));
    const items = fc.sample(
      fc.oneof(
        mutatedEvent.map((m) => m.raw),
        rawLine,
        acceptedEvent.map((e) => JSON.stringify(e)),
      ),
      { numRuns: 1_500, seed: 42 },
    );
    // Otherwise valid events carrying what PostgreSQL cannot store, in every kind of place.
    for (const bad of ['a\u0000b', '\ud800', 'x\udfff']) {
      const e = baseEvent('unstorable', 'PID-UNSTORABLE');
      items.push(JSON.stringify({ ...e, eventId: `u-${bad}` }));
      items.push(JSON.stringify({ ...e, eventId: `p-${items.length}`, patientId: bad }));
      items.push(
        JSON.stringify({ ...e, eventId: `a-${items.length}`, payload: { ...e.payload, agent: bad } }),
      );
      items.push(JSON.stringify({ ...e, eventId: `k-${items.length}`, [bad]: 1 }));
    }
    let accounted = 0;
    for (let b = 0; b * 250 < items.length; b++) {
      const batch = items.slice(b * 250, b * 250 + 250).map((raw, i) => ({ line: b * 250 + i + 1, raw }));
      const account = await writeIngestBatch(
        testDb.db,
        { pseudonymKey: PSEUDONYM_KEY, rejectedBodyKey: BODY_KEY },
        { submissionId: 'fuzz', batchIndex: b, source: null, items: batch },
      );
      expect(account.accepted + account.duplicate + account.rejected).toBe(batch.length);
      accounted += account.eventCount;

      // Every rejected row has reasons and its raw body decrypts to the input.
      const rejected = await testDb.db
        .selectFrom('rejected_events')
        .select(['item_index', 'reasons', 'raw_body'])
        .where('batch_id', '=', account.batchId)
        .execute();
      for (const row of rejected) {
        expect(row.reasons.length).toBeGreaterThan(0);
        const raw = batch[row.item_index]?.raw ?? '';
        if (isStorable(raw)) expect(decryptRawBody(BODY_KEY, row.raw_body)).toBe(raw);
      }
    }
    expect(accounted).toBe(items.length);
    const unstorable = await testDb.db
      .selectFrom('rejected_events')
      .select('reasons')
      .where(
        sql<boolean>`reasons @> ${JSON.stringify([{ message: 'contains a NUL character (U+0000), which cannot be stored' }])}::jsonb`,
      )
      .execute();
    expect(unstorable.length).toBeGreaterThanOrEqual(3);

    // Accepted free text reads back byte-identical (SQL-looking, odd Unicode, RTL marks, emoji).
    const stored = await testDb.db.selectFrom('events').select(['event_id', 'payload']).execute();
    const byId = new Map(stored.map((r) => [r.event_id, r.payload as Record<string, unknown>]));
    let compared = 0;
    for (const raw of items) {
      let parsed: { eventId?: unknown; payload?: Record<string, unknown> };
      try {
        parsed = JSON.parse(raw);
      } catch {
        continue;
      }
      if (typeof parsed?.eventId !== 'string' || !parsed.eventId.includes('#')) continue;
      const payload = byId.get(parsed.eventId);
      if (!payload) continue;
      expect(payload.agent).toBe(parsed.payload?.agent);
      expect(payload.regimen).toBe(parsed.payload?.regimen);
      compared++;
    }
    expect(compared).toBeGreaterThan(100);
    const sqlLooking = stored.filter(
      (r) => r.event_id.includes('drop table') || r.event_id.includes('DELETE'),
    );
    expect(sqlLooking.length).toBeGreaterThan(0); // stored as data, inert
  }, 60_000);
});
