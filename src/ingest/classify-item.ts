import {
  type EventType,
  type RejectionReason,
  SORTED_PAYLOAD_FIELDS,
  validateEvent,
} from '../contract/events.js';
import { canonicalJsonOfFlat, contentHash, patientKey } from '../crypto/pseudonym.js';
import type { IngestItem } from '../jobs/contracts.js';
import { findUnstorableText, mayHoldUnstorableText, storableText } from './storable-text.js';

/**
 * Turns one raw submitted item into either a valid, pseudonymized event ready for the ledger or
 * an invalid item with its reasons. Pure: no I/O, so it is cheap to test exhaustively.
 */

/**
 * A valid event as the ledger stores it. Only the fields the ledger needs are kept, not the
 * parsed event: a batch's valid items live until its transaction ends, and every object they
 * keep alive is copied again by each garbage collection in between.
 */
export type ValidItem = {
  kind: 'valid';
  index: number;
  line: number | null;
  raw: string;
  source: string;
  eventId: string;
  type: EventType;
  schemaVersion: number;
  occurredOn: string;
  patientKey: string;
  /**
   * The validated payload as canonical JSON (keys sorted): hashed into the content hash and
   * stored as the ledger's jsonb (which keeps no key order), so it is written once.
   */
  payloadJson: string;
  contentHash: string;
};

export type InvalidItem = {
  kind: 'invalid';
  index: number;
  line: number | null;
  raw: string;
  reasons: RejectionReason[];
  /** Best-effort envelope fields read from the raw item, to help find and repair it. */
  source: string | null;
  eventId: string | null;
  eventType: string | null;
};

export type ClassifiedItem = ValidItem | InvalidItem;

export const INVALID_JSON_REASON: RejectionReason = { path: '(line)', message: 'not valid JSON' };

function stringField(value: unknown, key: string, max: number): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'string' ? storableText(field, max) : null;
}

export function sourceMismatchReason(claimed: string, submittedBy: string): RejectionReason {
  return {
    path: 'source',
    message: `source mismatch: the event claims source "${claimed}" but was submitted as "${submittedBy}"`,
  };
}

function memoPatientKey(key: string, patientId: string, memo: Map<string, string> | undefined): string {
  if (!memo) return patientKey(key, patientId);
  let hashed = memo.get(patientId);
  if (hashed === undefined) {
    hashed = patientKey(key, patientId);
    memo.set(patientId, hashed);
  }
  return hashed;
}

function invalidItem(
  item: IngestItem,
  index: number,
  parsed: unknown,
  reasons: RejectionReason[],
): InvalidItem {
  return {
    kind: 'invalid',
    index,
    line: item.line,
    raw: item.raw,
    // Reasons can quote input (zod names unknown keys): keep them storable and bounded.
    reasons: reasons
      .slice(0, 50)
      .map((r) => ({ path: storableText(r.path, 300), message: storableText(r.message, 500) })),
    source: stringField(parsed, 'source', 100),
    eventId: stringField(parsed, 'eventId', 200),
    eventType: stringField(parsed, 'type', 100),
  };
}

/**
 * @param expectedSource the authenticated / operator-given source of the submission; when not
 *   null, an event claiming another source is rejected.
 */
export function classifyItem(
  item: IngestItem,
  index: number,
  options: {
    pseudonymKey: string;
    expectedSource: string | null;
    /**
     * Patient keys already computed (patientId -> key), shared by the items of one batch: a
     * patient's events travel together, so most HMACs of a batch are repeats.
     */
    patientKeys?: Map<string, string>;
  },
): ClassifiedItem {
  let parsed: unknown;
  try {
    parsed = JSON.parse(item.raw);
  } catch {
    return {
      kind: 'invalid',
      index,
      line: item.line,
      raw: item.raw,
      reasons: (item.rejection ?? [INVALID_JSON_REASON]).map((r) => ({
        path: storableText(r.path, 300),
        message: storableText(r.message, 500),
      })),
      source: null,
      eventId: null,
      eventType: null,
    };
  }
  if (item.rejection) return invalidItem(item, index, parsed, item.rejection);
  if (mayHoldUnstorableText(item.raw)) {
    const unstorable = findUnstorableText(parsed);
    if (unstorable) return invalidItem(item, index, parsed, [unstorable]);
  }
  const result = validateEvent(parsed);
  if (!result.ok) return invalidItem(item, index, parsed, result.reasons);
  const event = result.event;
  if (options.expectedSource !== null && event.source !== options.expectedSource) {
    return invalidItem(item, index, parsed, [sourceMismatchReason(event.source, options.expectedSource)]);
  }
  const payloadJson = canonicalJsonOfFlat(event.payload, SORTED_PAYLOAD_FIELDS[event.type]);
  return {
    kind: 'valid',
    index,
    line: item.line,
    raw: item.raw,
    source: event.source,
    eventId: event.eventId,
    type: event.type,
    schemaVersion: event.schemaVersion,
    occurredOn: event.occurredOn,
    patientKey: memoPatientKey(options.pseudonymKey, event.patientId, options.patientKeys),
    payloadJson,
    contentHash: contentHash(options.pseudonymKey, event, payloadJson),
  };
}
