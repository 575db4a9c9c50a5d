import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IntakeAnswer } from '../../src/api/intake.js';
import { InputError } from '../../src/errors.js';
import { mapBundle } from '../../src/fhir/map-bundle.js';
import { startTestApi, type TestApi } from '../support/api.js';

/**
 * Hostile input at the HTTP edge and through the FHIR mapper: no crash and no 5xx, every item
 * of an accepted request accounted (enqueued or rejected at the edge with a reason).
 */

const nasty = fc.oneof(
  fc.constantFrom(
    "'; drop table events; --",
    '\u0000',
    '\ud800',
    '__proto__',
    'constructor',
    '2021-02-30',
    'x'.repeat(5_000),
    '\u202e\ufeff',
  ),
  fc.string({ unit: 'binary', maxLength: 30 }),
);
const value = fc.oneof(
  nasty,
  fc.anything({
    maxDepth: 3,
    key: fc.oneof(nasty, fc.constantFrom('__proto__', 'constructor', 'resourceType')),
  }),
);

const patient = (id: unknown) => ({ resourceType: 'Patient', id, identifier: [{ value: id }] });
const bundleOf = (entries: unknown[], type: unknown = 'collection') => ({
  resourceType: 'Bundle',
  type,
  entry: entries.map((resource) => ({ resource })),
});

describe('FHIR mapper under hostile bundles (pure)', () => {
  it('2,000 bundles: outcomes for every entry or an InputError, never another exception', () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    fc.assert(
      fc.property(
        fc.oneof(
          value,
          fc.array(fc.oneof(value, value.map(patient)), { maxLength: 6 }).map((entries) => bundleOf(entries)),
          fc.tuple(value, value).map(([type, entry]) => bundleOf([entry], type)),
        ),
        (bundle) => {
          try {
            const outcomes = mapBundle(JSON.parse(JSON.stringify(bundle) ?? 'null'), 'fhir-src');
            expect(Array.isArray(outcomes)).toBe(true);
          } catch (error) {
            expect(error).toBeInstanceOf(InputError);
          }
        },
      ),
      { numRuns: 2_000 },
    );
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
  });
});

describe('HTTP intake under hostile requests', () => {
  let api: TestApi;
  let key: string;
  beforeAll(async () => {
    api = await startTestApi({ API_RATE_LIMIT_MAX: '100000', API_BODY_LIMIT_BYTES: '200000' });
    key = await api.key('hostile', ['ingest']);
  });
  afterAll(async () => {
    await api?.close();
  });

  const post = (path: string, body: string, contentType: string) =>
    fetch(`${api.url}${path}`, {
      method: 'POST',
      body,
      headers: { 'content-type': contentType, authorization: `Bearer ${key}` },
    });

  it('300 hostile bodies to /v1/events and /fhir/Bundle: 202 with every item accounted, or a 4xx; never 5xx', async () => {
    const bodies = fc.sample(
      fc.oneof(
        value.map((v) => ({
          path: '/v1/events',
          type: 'application/json',
          body: JSON.stringify(v) ?? 'null',
        })),
        fc
          .array(value, { minLength: 1, maxLength: 5 })
          .map((v) => ({ path: '/v1/events', type: 'application/json', body: JSON.stringify(v) })),
        fc.array(value, { minLength: 1, maxLength: 5 }).map((v) => ({
          path: '/v1/events',
          type: 'application/x-ndjson',
          body: v.map((x) => JSON.stringify(x) ?? 'x').join('\n'),
        })),
        nasty.map((s) => ({ path: '/v1/events', type: 'application/json', body: s })),
        fc.array(value.map(patient), { maxLength: 4 }).map((e) => ({
          path: '/fhir/Bundle',
          type: 'application/fhir+json',
          body: JSON.stringify(bundleOf(e)),
        })),
      ),
      { numRuns: 300, seed: 7 },
    );
    const statuses = new Map<number, number>();
    for (const { path, type, body } of bodies) {
      const response = await post(path, body, type);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status >= 500) {
        throw new Error(
          `${response.status} ${await response.text()} for ${path} ${JSON.stringify(body.slice(0, 600))}`,
        );
      }
      if (response.status === 202) {
        const answer = (await response.json()) as IntakeAnswer;
        expect(answer.enqueued + answer.rejectedAtEdge).toBe(answer.received);
        for (const r of answer.rejections) expect(JSON.stringify(r)).toMatch(/"reasons"|"message"|"reason"/);
      } else {
        expect([400, 404, 413, 415, 422]).toContain(response.status);
        await response.arrayBuffer();
      }
    }
    expect(statuses.get(202) ?? 0).toBeGreaterThan(10);
  }, 60_000);
});
