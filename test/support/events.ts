import type { EventType } from '../../src/contract/events.js';

/** One valid event per type, with the fields a test may override. */
export const VALID_PAYLOADS: Record<EventType, Record<string, unknown>> = {
  'patient.registered': {
    histology: 'ESCC',
    diseaseSetting: 'metastatic',
    diagnosedOn: '2020-01-10',
    sex: 'female',
    birthYear: 1958,
  },
  'immunotherapy.cycle': { line: 1, cycleNumber: 1, agent: 'camrelizumab', regimen: 'with chemotherapy' },
  'radiotherapy.course': {
    line: 1,
    intent: 'local',
    site: 'primary',
    startedOn: '2020-03-01',
    endedOn: '2020-04-10',
    totalDoseGy: 50.4,
    fractions: 28,
  },
  'followup.contact': { vitalStatus: 'alive' },
  'death.recorded': { diedOn: '2021-05-04', cause: 'progression' },
  'event.retracted': { targetEventId: 'ev-1', reason: 'entered for the wrong patient' },
};

/** Required payload fields per type (SPEC 2): the others are optional. */
export const REQUIRED_PAYLOAD_FIELDS: Record<EventType, string[]> = {
  'patient.registered': ['histology', 'diseaseSetting', 'diagnosedOn'],
  'immunotherapy.cycle': ['line', 'cycleNumber', 'agent'],
  'radiotherapy.course': ['line', 'intent', 'site', 'startedOn'],
  'followup.contact': ['vitalStatus'],
  'death.recorded': ['diedOn'],
  'event.retracted': ['targetEventId', 'reason'],
};

export const ENVELOPE_FIELDS = [
  'eventId',
  'source',
  'type',
  'schemaVersion',
  'patientId',
  'occurredOn',
  'payload',
];

export type TestEvent = {
  eventId: string;
  source: string;
  type: EventType;
  schemaVersion: number;
  patientId: string;
  occurredOn: string;
  payload: Record<string, unknown>;
};

export function makeEvent(type: EventType, overrides: Partial<TestEvent> = {}): TestEvent {
  return {
    eventId: `ev-${type}`,
    source: 'oncology',
    type,
    schemaVersion: 1,
    patientId: 'MRN-000001',
    occurredOn: '2020-02-01',
    payload: { ...VALID_PAYLOADS[type] },
    ...overrides,
  };
}

/**
 * A small cohort of valid events: `patients` patients, each registered with `cycles` cycles.
 * Patient ids are distinctive strings so a test can search the database for them.
 */
export function makeCohort(patients: number, cycles = 2, source = 'oncology'): TestEvent[] {
  const events: TestEvent[] = [];
  for (let p = 1; p <= patients; p++) {
    const patientId = `MRN-RAW-${String(p).padStart(6, '0')}`;
    events.push(
      makeEvent('patient.registered', { eventId: `reg-${p}`, source, patientId, occurredOn: '2020-01-15' }),
    );
    for (let c = 1; c <= cycles; c++) {
      events.push(
        makeEvent('immunotherapy.cycle', {
          eventId: `cyc-${p}-${c}`,
          source,
          patientId,
          occurredOn: `2020-0${Math.min(c + 1, 9)}-01`,
          payload: { line: 1, cycleNumber: c, agent: 'tislelizumab' },
        }),
      );
    }
  }
  return events;
}

export const toLines = (events: unknown[]): string[] => events.map((e) => JSON.stringify(e));
