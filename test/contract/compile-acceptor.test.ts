import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compileAcceptor } from '../../src/contract/compile-acceptor.js';
import { EVENT_TYPES, eventSchema, validateEvent } from '../../src/contract/events.js';
import { ingestJobSchema, parseIngestJob } from '../../src/jobs/contracts.js';
import { ENVELOPE_FIELDS, makeEvent, VALID_PAYLOADS } from '../support/events.js';

const accepts = compileAcceptor(eventSchema);

/** The acceptor's promise: true only for what zod accepts AND returns unchanged. */
function expectAgreesWithZod(acceptor: (value: unknown) => boolean, schema: z.ZodType, input: unknown) {
  const parsed = schema.safeParse(input);
  if (acceptor(input)) {
    expect(parsed.success).toBe(true);
    expect(parsed.data).toStrictEqual(input);
  }
  return parsed.success;
}

// Values near every boundary of the contract, and of other types.
const astral = '😀';
const edgeValue = fc.constantFrom<unknown>(
  '',
  ' ',
  '\u00a0',
  '\u2028',
  '\ufeff',
  '\t x \n',
  'x',
  'a'.repeat(50),
  'a'.repeat(51),
  'a'.repeat(100),
  'a'.repeat(101),
  astral.repeat(100),
  astral.repeat(101),
  `${'a'.repeat(199)}${astral}`,
  'a'.repeat(200),
  'a'.repeat(201),
  'a'.repeat(500),
  'a'.repeat(501),
  '2020-02-29',
  '2021-02-29',
  '1899-12-31',
  '1900-01-01',
  '2100-12-31',
  '2101-01-01',
  '2100-13-01',
  '0050-01-01',
  '2020-1-01',
  ' 2020-01-01',
  '2020-01-01T00:00',
  '2019-12-31',
  'ESCC',
  'local',
  'primary',
  'regional-node',
  'metastasis',
  'alive',
  'dead',
  'female',
  'unknown',
  'ehr',
  '-ehr',
  'ehr.x_y-z',
  'ehr/x',
  'a'.repeat(99),
  ...EVENT_TYPES,
  0,
  -0,
  1,
  1.5,
  2,
  20,
  21,
  28,
  50.4,
  100,
  101,
  200,
  200.0001,
  1000,
  1001,
  1899,
  1900,
  2100,
  2101,
  -1,
  1e21,
  Number.MAX_SAFE_INTEGER + 1,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  '1',
  null,
  undefined,
  true,
  false,
  [],
  {},
  [1],
);
const fieldName = fc.constantFrom(
  ...ENVELOPE_FIELDS,
  ...new Set(Object.values(VALID_PAYLOADS).flatMap((p) => Object.keys(p))),
  'unknownField',
  '__proto__',
  'constructor',
  'toString',
);

type Mutation = { where: 'envelope' | 'payload'; key: string; value: unknown; remove: boolean };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  where: fc.constantFrom('envelope', 'payload'),
  key: fieldName,
  value: edgeValue,
  remove: fc.boolean(),
});

function mutated(type: (typeof EVENT_TYPES)[number], mutations: Mutation[]): Record<string, unknown> {
  const event: Record<string, unknown> = JSON.parse(JSON.stringify(makeEvent(type)));
  for (const m of mutations) {
    const target = m.where === 'envelope' ? event : event.payload;
    if (target === null || typeof target !== 'object') continue;
    const record = target as Record<string, unknown>;
    if (m.remove) delete record[m.key];
    else
      Object.defineProperty(record, m.key, {
        value: m.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return event;
}

describe('compileAcceptor', () => {
  it('compiles the event contract (else every event would take the slow path)', () => {
    expect(accepts).not.toBeNull();
  });

  it('accepts every valid example, and what it accepts zod returns unchanged', () => {
    for (const type of EVENT_TYPES) {
      const event = JSON.parse(JSON.stringify(makeEvent(type)));
      expect(accepts?.(event)).toBe(true);
      expect(expectAgreesWithZod(accepts!, eventSchema, event)).toBe(true);
    }
  });

  it('agrees with zod on mutated events near every boundary (true only when zod accepts unchanged)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...EVENT_TYPES),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (type, ms) => {
          const input = mutated(type, ms);
          const zodAccepts = expectAgreesWithZod(accepts!, eventSchema, input);
          // And the other way round, for input JSON can carry: no valid event is left to zod.
          if (zodAccepts && isDeepStrictEqual(input, JSON.parse(JSON.stringify(input)))) {
            expect(accepts?.(input)).toBe(true);
          }
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('agrees with zod on the same events as parsed from JSON text, own __proto__ keys included', () => {
    const texts = [
      '{"__proto__":{"x":1}}',
      JSON.stringify(makeEvent('followup.contact')).replace('{"eventId"', '{"__proto__":1,"eventId"'),
      JSON.stringify(makeEvent('followup.contact')).replace(
        '"vitalStatus"',
        '"__proto__":null,"vitalStatus"',
      ),
      JSON.stringify(
        makeEvent('radiotherapy.course', {
          payload: { ...VALID_PAYLOADS['radiotherapy.course'], endedOn: '2020-02-01' },
        }),
      ),
      JSON.stringify(
        makeEvent('radiotherapy.course', {
          payload: { ...VALID_PAYLOADS['radiotherapy.course'], endedOn: '2020-03-01' },
        }),
      ),
    ];
    for (const text of texts) expectAgreesWithZod(accepts!, eventSchema, JSON.parse(text));
    expect(accepts?.(JSON.parse(texts[1]!))).toBe(false);
    expect(validateEvent(JSON.parse(texts[1]!)).ok).toBe(false);
  });

  it('compiles the ingest job payload and agrees with zod on generated payloads', () => {
    const acceptsJob = compileAcceptor(ingestJobSchema);
    expect(acceptsJob).not.toBeNull();
    const text = (max: number) =>
      fc.oneof(fc.string({ maxLength: 3 }), fc.constantFrom('x'.repeat(max), 'x'.repeat(max + 1)));
    const anything = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.string({ maxLength: 3 }),
      fc.constant(null),
      fc.constant(undefined),
    );
    const rejection = fc.array(
      fc.oneof(
        fc.record({ path: text(500), message: text(2_000) }),
        fc.record({ path: text(500), message: anything }),
        fc.record({ path: text(500), message: text(2_000), extra: anything }),
      ),
      { maxLength: 52 },
    );
    const item = fc.record(
      {
        line: fc.oneof(fc.integer({ min: -1, max: 3 }), fc.constant(null), fc.double(), fc.constant('1')),
        raw: fc.oneof(fc.string({ maxLength: 20 }), anything),
        rejection: fc.oneof(rejection, anything),
        other: anything,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.record(
          {
            submissionId: fc.oneof(text(200), fc.constant(''), anything),
            batchIndex: fc.oneof(fc.integer({ min: -1, max: 3 }), fc.double(), anything),
            source: fc.oneof(text(100), fc.constant(''), fc.constant(null), anything),
            items: fc.oneof(fc.array(item, { maxLength: 4 }), anything),
            extra: anything,
          },
          { requiredKeys: [] },
        ),
        (job) => {
          expectAgreesWithZod(acceptsJob!, ingestJobSchema, job);
          expect(parseIngestJob(job).success).toBe(ingestJobSchema.safeParse(job).success);
        },
      ),
      { numRuns: 5_000 },
    );
    const valid = {
      submissionId: 's',
      batchIndex: 0,
      source: null,
      items: [
        { line: 1, raw: '{}' },
        { line: null, raw: 'x', rejection: [{ path: 'p', message: 'm' }] },
      ],
    };
    expect(acceptsJob?.(valid)).toBe(true);
    expect(acceptsJob?.({ ...valid, items: [] })).toBe(false);
  });

  it('declines what it does not know, and zod then decides', () => {
    expect(compileAcceptor(z.object({ a: z.record(z.string(), z.string()) }))).toBeNull();
    expect(compileAcceptor(z.object({ a: z.string().transform((s) => s.length) }))).toBeNull();
    // A check kind without plain code runs as zod's own check object.
    const trimmed = compileAcceptor(z.object({ a: z.string().trim().min(2), b: z.number().multipleOf(5) }));
    expect(trimmed).not.toBeNull();
    expect(trimmed?.({ a: 'ab', b: 10 })).toBe(true);
    expect(trimmed?.({ a: ' ab', b: 10 })).toBe(false); // zod would return 'ab': not unchanged
    expect(trimmed?.({ a: 'ab', b: 11 })).toBe(false);
  });
});
