import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, validateEvent } from '../../src/contract/events.js';
import { ENVELOPE_FIELDS, makeEvent, REQUIRED_PAYLOAD_FIELDS, VALID_PAYLOADS } from '../support/events.js';

const reasonsOf = (input: unknown) => {
  const result = validateEvent(input);
  if (result.ok) throw new Error('expected the event to be rejected');
  return result.reasons;
};

describe('event contract v1', () => {
  it.each(EVENT_TYPES)('accepts a valid %s with all optional fields', (type) => {
    const result = validateEvent(makeEvent(type));
    expect(result.ok).toBe(true);
  });

  it.each(EVENT_TYPES)('accepts a %s with only its required payload fields', (type) => {
    const payload = Object.fromEntries(
      REQUIRED_PAYLOAD_FIELDS[type].map((field) => [field, VALID_PAYLOADS[type][field]]),
    );
    expect(validateEvent(makeEvent(type, { payload })).ok).toBe(true);
  });

  describe.each(EVENT_TYPES)('%s', (type) => {
    it.each(ENVELOPE_FIELDS)('rejects a missing envelope field %s, naming it', (field) => {
      const event: Record<string, unknown> = { ...makeEvent(type) };
      delete event[field];
      const reasons = reasonsOf(event);
      expect(reasons.map((r) => r.path)).toContain(field);
    });

    it.each(REQUIRED_PAYLOAD_FIELDS[type])('rejects a missing payload field %s, naming it', (field) => {
      const event = makeEvent(type);
      delete event.payload[field];
      expect(reasonsOf(event).map((r) => r.path)).toContain(`payload.${field}`);
    });

    it('rejects an unknown payload field', () => {
      const event = makeEvent(type);
      event.payload.dose = '200mg';
      expect(reasonsOf(event)[0]?.message).toMatch(/dose/);
    });
  });

  it('keeps text verbatim, outer whitespace included, and rejects blank text', () => {
    const result = validateEvent(
      makeEvent('immunotherapy.cycle', { eventId: ' cyc-1 ', patientId: 'MRN 7 ' }),
    );
    if (!result.ok) throw new Error(JSON.stringify(result.reasons));
    expect(result.event.eventId).toBe(' cyc-1 ');
    expect(result.event.patientId).toBe('MRN 7 ');
    expect(reasonsOf(makeEvent('immunotherapy.cycle', { eventId: '  ' }))).toEqual([
      { path: 'eventId', message: 'must not be empty or blank' },
    ]);
  });

  it('rejects an unknown envelope field', () => {
    expect(reasonsOf({ ...makeEvent('followup.contact'), mrn: 'x' })[0]?.message).toMatch(/mrn/);
  });

  it.each(['immunotherapy.cylce', 'patient.updated', '', 42])('rejects the unknown type %s', (type) => {
    expect(reasonsOf({ ...makeEvent('followup.contact'), type }).map((r) => r.path)).toContain('type');
  });

  it.each([
    '2020-02-30',
    '2021-02-29',
    '2020-13-01',
    '2020-00-10',
    '20-01-01',
    '2020/01/01',
    '2020-01-01T00:00:00Z',
    '1899-12-31',
    '2101-01-01',
    '',
  ])('rejects the bad occurredOn date %s', (date) => {
    expect(reasonsOf(makeEvent('followup.contact', { occurredOn: date })).map((r) => r.path)).toContain(
      'occurredOn',
    );
  });

  it('accepts a leap day', () => {
    expect(validateEvent(makeEvent('followup.contact', { occurredOn: '2020-02-29' })).ok).toBe(true);
  });

  it.each([
    ['patient.registered', 'diagnosedOn'],
    ['radiotherapy.course', 'startedOn'],
    ['death.recorded', 'diedOn'],
  ] as const)('rejects a bad payload date in %s.%s', (type, field) => {
    const event = makeEvent(type);
    event.payload[field] = '2020-04-31';
    expect(reasonsOf(event).map((r) => r.path)).toContain(`payload.${field}`);
  });

  it('rejects a radiotherapy course that ends before it starts', () => {
    const event = makeEvent('radiotherapy.course');
    event.payload.endedOn = '2020-02-01';
    expect(reasonsOf(event).map((r) => r.path)).toContain('payload.endedOn');
  });

  it('rejects schemaVersion 2, a non-integer cycle and a vital status other than alive', () => {
    expect(reasonsOf(makeEvent('followup.contact', { schemaVersion: 2 })).map((r) => r.path)).toContain(
      'schemaVersion',
    );
    const cycle = makeEvent('immunotherapy.cycle');
    cycle.payload.cycleNumber = 1.5;
    expect(reasonsOf(cycle).map((r) => r.path)).toContain('payload.cycleNumber');
    const contact = makeEvent('followup.contact', { payload: { vitalStatus: 'dead' } });
    expect(reasonsOf(contact).map((r) => r.path)).toContain('payload.vitalStatus');
  });

  it('rejects non-objects', () => {
    for (const input of [null, 42, 'text', [makeEvent('followup.contact')]]) {
      expect(validateEvent(input).ok).toBe(false);
    }
  });
});
