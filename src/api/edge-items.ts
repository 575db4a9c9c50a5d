import { type Kysely, sql } from 'kysely';
import { type RejectionReason, validateEvent } from '../contract/events.js';
import type { Database } from '../db/database.js';
import { INVALID_JSON_REASON, sourceMismatchReason } from '../ingest/classify-item.js';
import type { IntakeItem } from './intake.js';

/**
 * Edge validation of POST /v1/events: every item is checked against the contract before it is
 * enqueued, and the answer lists what is wrong with each. Rejected items are still enqueued,
 * marked with their reasons, so the worker stores them (raw body encrypted) and the batch
 * account counts them: nothing sent is lost.
 */

export type Candidate = {
  index: number;
  line: number | null;
  value: unknown;
  raw: string;
  parseError?: boolean;
};

/** Splits an NDJSON body: one item per non-blank line, numbered by physical line. */
export function ndjsonCandidates(body: string): Candidate[] {
  const candidates: Candidate[] = [];
  const lines = body.split(/\r?\n/);
  lines.forEach((text, i) => {
    if (text.trim() === '') return;
    const index = candidates.length;
    try {
      candidates.push({ index, line: i + 1, value: JSON.parse(text), raw: text });
    } catch {
      candidates.push({ index, line: i + 1, value: undefined, raw: text, parseError: true });
    }
  });
  return candidates;
}

/** A candidate from an already parsed value (array element, mapped CSV row or FHIR resource). */
export function valueCandidate(index: number, line: number | null, value: unknown): Candidate {
  return { index, line, value, raw: JSON.stringify(value) ?? 'null' };
}

export function arrayCandidates(body: unknown[]): Candidate[] {
  return body.map((value, index) => valueCandidate(index, index + 1, value));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates candidates as events of `source`. An event without a `source` field is attributed
 * to the authenticated source (it is filled in); one naming another source is rejected.
 */
export function validateCandidates(candidates: Candidate[], source: string): IntakeItem[] {
  return candidates.map((c): IntakeItem => {
    if (c.parseError) return { index: c.index, line: c.line, raw: c.raw, rejection: [INVALID_JSON_REASON] };
    let value = c.value;
    let raw = c.raw;
    if (isPlainObject(value) && !('source' in value)) {
      value = { ...value, source };
      raw = JSON.stringify(value);
    }
    const result = validateEvent(value);
    if (!result.ok) return { index: c.index, line: c.line, raw, rejection: result.reasons };
    if (result.event.source !== source) {
      return {
        index: c.index,
        line: c.line,
        raw,
        rejection: [sourceMismatchReason(result.event.source, source)],
      };
    }
    return { index: c.index, line: c.line, raw };
  });
}

/**
 * A retraction names an event id, and ids are scoped by source, so a retraction can only ever
 * withdraw the sender's own event. When the target is unknown for the sender but known for
 * another source, the producer evidently meant the other source's event: reject it explicitly
 * rather than store a retraction that silently does nothing.
 */
export async function rejectForeignRetractions(
  db: Kysely<Database>,
  items: IntakeItem[],
  source: string,
): Promise<void> {
  const ownIdsInBody = new Set<string>();
  const retractions: { item: IntakeItem; target: string }[] = [];
  for (const item of items) {
    if (item.rejection) continue;
    const event = JSON.parse(item.raw) as {
      eventId: string;
      type: string;
      payload: { targetEventId?: string };
    };
    ownIdsInBody.add(event.eventId);
    if (event.type === 'event.retracted' && event.payload.targetEventId) {
      retractions.push({ item, target: event.payload.targetEventId });
    }
  }
  const targets = [...new Set(retractions.map((r) => r.target).filter((t) => !ownIdsInBody.has(t)))];
  if (targets.length === 0) return;
  // The ledger's unique index is (source, event_id): look the ids up per source (the sources come
  // from a loose index scan), so a large ledger is never scanned for a handful of ids.
  const { rows } = await sql<{ source: string; event_id: string }>`
    with recursive sources(source) as (
      select min(source) from events
      union all
      select (select min(e.source) from events e where e.source > sources.source)
      from sources where sources.source is not null
    )
    select e.source, e.event_id
    from sources
    join events e on e.source = sources.source and e.event_id = any(${targets}::text[])`.execute(db);
  const own = new Set(rows.filter((r) => r.source === source).map((r) => r.event_id));
  const foreign = new Set(rows.filter((r) => r.source !== source).map((r) => r.event_id));
  for (const { item, target } of retractions) {
    if (ownIdsInBody.has(target) || own.has(target) || !foreign.has(target)) continue;
    const reason: RejectionReason = {
      path: 'payload.targetEventId',
      message: `cannot retract event "${target}": it was sent by another source, and a source can retract only its own events`,
    };
    item.rejection = [reason];
  }
}
