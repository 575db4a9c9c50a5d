import { createHash, createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { SurvEvent } from '../../src/contract/events.js';
import type { Database } from '../../src/db/database.js';

/**
 * Writes contract events straight into the ledger for recompute tests, pseudonymized the way the
 * ingest does it (patient_key = HMAC-SHA256(PSEUDONYM_KEY, patientId), hex). It bypasses
 * validation and the ingest accounting on purpose: these tests are about the derivation.
 */
export async function insertLedgerEvents(
  db: Kysely<Database>,
  pseudonymKey: string,
  events: readonly SurvEvent[],
  batchId = 'fixture',
): Promise<void> {
  for (let i = 0; i < events.length; i += 1000) {
    await db
      .insertInto('events')
      .values(
        events.slice(i, i + 1000).map((event) => ({
          source: event.source,
          event_id: event.eventId,
          type: event.type,
          schema_version: event.schemaVersion,
          patient_key: patientKeyOf(pseudonymKey, event.patientId),
          occurred_on: event.occurredOn,
          payload: JSON.stringify(event.payload),
          content_hash: createHash('sha256').update(JSON.stringify(event)).digest('hex'),
          batch_id: batchId,
        })),
      )
      .execute();
  }
}

export function patientKeyOf(pseudonymKey: string, patientId: string): string {
  return createHmac('sha256', pseudonymKey).update(patientId, 'utf8').digest('hex');
}

/** Adds days to an ISO date. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export type PatientSpec = {
  id: string;
  source?: string;
  histology?: string;
  diseaseSetting?: string;
  diagnosedOn?: string;
  registeredOn?: string | null;
  /** Date of line-1 cycle 1; cycles every 21 days. */
  startOn: string;
  cycles: number;
  /** Explicit cycle numbers (overrides `cycles`), each at (number - 1) * 21 days. */
  cycleNumbers?: number[];
  radiotherapyOn?: string;
  radiotherapyIntent?: string;
  contacts?: string[];
  diedOn?: string;
};

/** The contract events of one synthetic patient (event ids derived from the patient id). */
export function patientEvents(spec: PatientSpec): SurvEvent[] {
  const source = spec.source ?? 'ehr';
  const base = { source, schemaVersion: 1 as const, patientId: spec.id };
  const events: SurvEvent[] = [];
  if (spec.registeredOn !== null) {
    events.push({
      ...base,
      eventId: `${spec.id}-reg`,
      type: 'patient.registered',
      occurredOn: spec.registeredOn ?? spec.startOn,
      payload: {
        histology: spec.histology ?? 'ESCC',
        diseaseSetting: spec.diseaseSetting ?? 'metastatic',
        diagnosedOn: spec.diagnosedOn ?? addDays(spec.startOn, -30),
      },
    });
  }
  const numbers = spec.cycleNumbers ?? Array.from({ length: spec.cycles }, (_, i) => i + 1);
  for (const n of numbers) {
    events.push({
      ...base,
      eventId: `${spec.id}-c${n}`,
      type: 'immunotherapy.cycle',
      occurredOn: addDays(spec.startOn, (n - 1) * 21),
      payload: { line: 1, cycleNumber: n, agent: 'camrelizumab' },
    });
  }
  if (spec.radiotherapyOn) {
    events.push({
      ...base,
      eventId: `${spec.id}-rt`,
      type: 'radiotherapy.course',
      occurredOn: spec.radiotherapyOn,
      payload: {
        line: 1,
        intent: spec.radiotherapyIntent ?? 'local',
        site: 'primary',
        startedOn: spec.radiotherapyOn,
      },
    });
  }
  (spec.contacts ?? []).forEach((on, i) => {
    events.push({
      ...base,
      eventId: `${spec.id}-f${i}`,
      type: 'followup.contact',
      occurredOn: on,
      payload: { vitalStatus: 'alive' },
    });
  });
  if (spec.diedOn) {
    events.push({
      ...base,
      eventId: `${spec.id}-death`,
      type: 'death.recorded',
      occurredOn: spec.diedOn,
      payload: { diedOn: spec.diedOn },
    });
  }
  return events;
}

export function retraction(
  source: string,
  patientId: string,
  targetEventId: string,
  occurredOn: string,
): SurvEvent {
  return {
    source,
    schemaVersion: 1,
    patientId,
    eventId: `retract-${targetEventId}`,
    type: 'event.retracted',
    occurredOn,
    payload: { targetEventId, reason: 'entered in error' },
  };
}
