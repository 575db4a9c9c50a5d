import { z } from 'zod';
import { compileAcceptor } from './compile-acceptor.js';

/**
 * Event contract, version 1 (SPEC section 2). The single source of truth for what producers may
 * send: the ingest worker, the HTTP edge, the FHIR and CSV mappers and the OpenAPI document all
 * derive from these schemas. Objects are strict: an unknown field is far more often a typo or a
 * mapping mistake than a real extension, and rejecting it names the field.
 */

export const EVENT_TYPES = [
  'patient.registered',
  'immunotherapy.cycle',
  'radiotherapy.course',
  'followup.contact',
  'death.recorded',
  'event.retracted',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const digitAt = (text: string, i: number) => text.charCodeAt(i) - 48;

function isCalendarDate(text: string): boolean {
  // Runs for every date of every ingested event: the usual shape `dddd-dd-dd` is checked with
  // arithmetic; anything else takes the general path below (same answers, just slower).
  if (text.length === 10 && /^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const year = digitAt(text, 0) * 1000 + digitAt(text, 1) * 100 + digitAt(text, 2) * 10 + digitAt(text, 3);
    const month = digitAt(text, 5) * 10 + digitAt(text, 6);
    const day = digitAt(text, 8) * 10 + digitAt(text, 9);
    // Date.UTC maps years 0-99 to 1900-1999, so the general path never accepts them either.
    if (year < 100 || month < 1 || month > 12 || day < 1) return false;
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    return day <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!);
  }
  const [year, month, day] = text.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** A clinical date: ISO `YYYY-MM-DD`, a real calendar day, years 1900-2100. */
export const clinicalDate = z
  .string()
  .regex(/^(19|20)\d{2}-\d{2}-\d{2}$|^2100-\d{2}-\d{2}$/, 'expected an ISO date YYYY-MM-DD (1900-2100)')
  .refine(isCalendarDate, 'not a calendar date');

// Text is stored verbatim (never trimmed or normalized): an id with a trailing space is that id.
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((value) => value.trim() !== '', 'must not be empty or blank');

export const patientRegisteredPayload = z.strictObject({
  histology: text(100),
  diseaseSetting: text(100),
  diagnosedOn: clinicalDate,
  sex: z.enum(['female', 'male', 'other', 'unknown']).optional(),
  birthYear: z.number().int().min(1900).max(2100).optional(),
});

export const immunotherapyCyclePayload = z.strictObject({
  line: z.number().int().min(1).max(20),
  cycleNumber: z.number().int().min(1).max(1000),
  agent: text(100),
  regimen: text(200).optional(),
});

export const radiotherapyCoursePayload = z
  .strictObject({
    line: z.number().int().min(1).max(20),
    intent: text(50),
    site: z.enum(['primary', 'regional-node', 'metastasis']),
    startedOn: clinicalDate,
    endedOn: clinicalDate.optional(),
    totalDoseGy: z.number().positive().max(200).optional(),
    fractions: z.number().int().min(1).max(100).optional(),
  })
  .refine((p) => p.endedOn === undefined || p.endedOn >= p.startedOn, {
    message: 'endedOn is before startedOn',
    path: ['endedOn'],
  });

export const followupContactPayload = z.strictObject({
  vitalStatus: z.literal('alive'),
});

export const deathRecordedPayload = z.strictObject({
  diedOn: clinicalDate,
  cause: text(200).optional(),
});

export const eventRetractedPayload = z.strictObject({
  targetEventId: text(200),
  reason: text(500),
});

const envelopeFields = {
  eventId: text(200),
  source: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
      'letters, digits, . _ - (at most 100, starting alphanumeric)',
    ),
  schemaVersion: z.literal(1),
  patientId: text(100),
  occurredOn: clinicalDate,
};

export const eventSchema = z.discriminatedUnion('type', [
  z.strictObject({
    ...envelopeFields,
    type: z.literal('patient.registered'),
    payload: patientRegisteredPayload,
  }),
  z.strictObject({
    ...envelopeFields,
    type: z.literal('immunotherapy.cycle'),
    payload: immunotherapyCyclePayload,
  }),
  z.strictObject({
    ...envelopeFields,
    type: z.literal('radiotherapy.course'),
    payload: radiotherapyCoursePayload,
  }),
  z.strictObject({ ...envelopeFields, type: z.literal('followup.contact'), payload: followupContactPayload }),
  z.strictObject({ ...envelopeFields, type: z.literal('death.recorded'), payload: deathRecordedPayload }),
  z.strictObject({ ...envelopeFields, type: z.literal('event.retracted'), payload: eventRetractedPayload }),
]);

export type SurvEvent = z.infer<typeof eventSchema>;

/** Each type's payload fields in sorted order (UTF-16 code units): the canonical JSON's order. */
export const SORTED_PAYLOAD_FIELDS = Object.fromEntries(
  eventSchema.options.map((option) => [
    option.shape.type.value,
    Object.keys(option.shape.payload.shape).sort(),
  ]),
) as unknown as Record<EventType, readonly string[]>;
export type EventOf<T extends EventType> = Extract<SurvEvent, { type: T }>;

/** One reason an input was rejected: where in the input, and what is wrong. */
export type RejectionReason = { path: string; message: string };

export type ValidationResult = { ok: true; event: SurvEvent } | { ok: false; reasons: RejectionReason[] };

// Compiled once; null only if the schema used something the acceptor does not know (then every
// event goes through zod's parse, which test/contract/compile-acceptor.test.ts would flag).
const acceptsValidEvent = compileAcceptor(eventSchema);

export function validateEvent(input: unknown): ValidationResult {
  // A valid event parses to itself: say so without zod building a copy of it. Everything else
  // (and anything the acceptor is unsure of) is parsed by zod, which gives the reasons.
  if (acceptsValidEvent?.(input)) return { ok: true, event: input as SurvEvent };
  const parsed = eventSchema.safeParse(input);
  if (parsed.success) return { ok: true, event: parsed.data };
  return {
    ok: false,
    reasons: parsed.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.') || '(event)',
      message: issue.message,
    })),
  };
}
