import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { SurvEvent } from '../../src/contract/events.js';
import { patientKey } from '../../src/crypto/pseudonym.js';
import type { Database } from '../../src/db/database.js';
import { openSubmission } from '../../src/ingest/submission.js';
import { writeIngestBatch } from '../../src/ingest/write-batch.js';

/**
 * Writes contract events into the ledger through the ingest batch writer (validation,
 * pseudonymization, idempotency exactly as in production), without a queue. Throws when an event
 * is not accepted, so a broken fixture cannot pass silently.
 */
export async function insertLedgerEvents(
  db: Kysely<Database>,
  keys: { pseudonymKey: string; rejectedBodyKey: Buffer },
  events: readonly SurvEvent[],
): Promise<void> {
  const submission = await openSubmission(db, {
    id: `fixture-${randomUUID()}`,
    channel: 'cli',
    source: null,
  });
  for (let i = 0, batchIndex = 0; i < events.length; i += 1000, batchIndex++) {
    const slice = events.slice(i, i + 1000);
    const account = await writeIngestBatch(db, keys, {
      submissionId: submission.id,
      batchIndex,
      source: null,
      items: slice.map((event, j) => ({ line: i + j + 1, raw: JSON.stringify(event) })),
    });
    if (account.accepted !== slice.length) {
      throw new Error(
        `fixture: ${account.accepted} of ${slice.length} events accepted (${account.duplicate} duplicate, ${account.rejected} rejected)`,
      );
    }
  }
}

export function patientKeyOf(pseudonymKey: string, patientId: string): string {
  return patientKey(pseudonymKey, patientId);
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

/** One follow-up contact (alive) of a patient, an event of its own beside its spec's. */
export function followUpContact(patientId: string, eventId: string, occurredOn: string): SurvEvent {
  return {
    source: 'ehr',
    schemaVersion: 1,
    patientId,
    eventId,
    type: 'followup.contact',
    occurredOn,
    payload: { vitalStatus: 'alive' },
  };
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

/**
 * A deterministic synthetic cohort: `size` eligible patients with 1-20 cycles every 21 days,
 * local radiotherapy for about a third, deaths for about two thirds, follow-up contacts, all
 * starting in 2020. Same seed, same cohort.
 */
export function syntheticCohort(size: number, seed = 7): PatientSpec[] {
  let state = seed;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  const specs: PatientSpec[] = [];
  for (let i = 0; i < size; i++) {
    const startOn = addDays('2020-01-01', Math.floor(random() * 365));
    const cycles = 1 + Math.floor(random() * 20);
    const survivalDays = 60 + Math.floor(random() * 1400);
    const lastCycleDay = Math.min((cycles - 1) * 21, survivalDays - 1);
    const dies = random() < 0.65;
    const contactDays = [90, 180, 365, 540, 730, 1000].filter((d) => d < survivalDays);
    specs.push({
      id: `P${String(i).padStart(4, '0')}`,
      startOn,
      cycles: Math.floor(lastCycleDay / 21) + 1,
      ...(random() < 0.35 ? { radiotherapyOn: addDays(startOn, 20 + Math.floor(random() * 60)) } : {}),
      contacts: contactDays.map((d) => addDays(startOn, d)),
      ...(dies ? { diedOn: addDays(startOn, survivalDays) } : {}),
    });
  }
  return specs;
}
