import { type Kysely, sql } from 'kysely';
import type { RejectionReason } from '../contract/events.js';
import { encryptRawBody } from '../crypto/raw-body-cipher.js';
import type { Database } from '../db/database.js';
import { UnknownSubmissionError } from '../errors.js';
import { type IngestJob, ingestJobId } from '../jobs/contracts.js';
import { type ClassifiedItem, classifyItem, type ValidItem } from './classify-item.js';

/** What one batch contributed to its submission's account. */
export type BatchAccount = {
  batchId: string;
  submissionId: string;
  batchIndex: number;
  eventCount: number;
  accepted: number;
  duplicate: number;
  rejected: number;
  /**
   * True when the batch had already been written by an earlier delivery of the same job (a
   * crash between commit and acknowledgement): nothing was written this time and the recorded
   * account is returned.
   */
  alreadyRecorded: boolean;
};

export type WriteBatchOptions = { pseudonymKey: string; rejectedBodyKey: Buffer };

type Rejection = {
  index: number;
  line: number | null;
  raw: string;
  kind: 'invalid' | 'conflict';
  reasons: RejectionReason[];
  source: string | null;
  eventId: string | null;
  eventType: string | null;
};

export function conflictReason(source: string, eventId: string): RejectionReason {
  return {
    path: 'eventId',
    message: `event ${eventId} from ${source} was already received with different content; send event.retracted and a new event to correct it`,
  };
}

const keyOf = (source: string, eventId: string) => `${source}\u0000${eventId}`;

/**
 * Writes one ingest batch: its new ledger rows, its rejected inputs and its account row, in ONE
 * transaction, with set-based statements (one INSERT for the events, one for the rejections).
 *
 * Exactly-once effect under at-least-once delivery:
 * - the batch's account row is the commit marker: a redelivered batch finds it and returns the
 *   recorded account without writing anything (a transaction-scoped advisory lock on the batch
 *   id serializes two deliveries of the same batch running at once);
 * - events go in with `ON CONFLICT (source, event_id) DO NOTHING`; the ones that were not
 *   inserted are compared by content hash with the ledger row: equal is a duplicate, different
 *   is a conflict (rejected, never overwritten). Later occurrences of a key within the same
 *   batch are classified the same way against whichever row the ledger ended up holding.
 *
 * A plain function of (db, options, payload): the queue processor, the tests and fixtures call it.
 * Database errors propagate (the job is retried); a missing submission throws
 * UnknownSubmissionError (a poison payload).
 */
export async function writeIngestBatch(
  db: Kysely<Database>,
  options: WriteBatchOptions,
  job: IngestJob,
): Promise<BatchAccount> {
  const batchId = ingestJobId(job.submissionId, job.batchIndex);
  const classified: ClassifiedItem[] = job.items.map((item, index) =>
    classifyItem(item, index, { pseudonymKey: options.pseudonymKey, expectedSource: job.source }),
  );

  // First occurrence of each (source, eventId) in the batch is the one offered to the ledger.
  const firstByKey = new Map<string, ValidItem>();
  for (const item of classified) {
    if (item.kind !== 'valid') continue;
    const key = keyOf(item.event.source, item.event.eventId);
    if (!firstByKey.has(key)) firstByKey.set(key, item);
  }
  // A stable insertion order keeps two batches with overlapping keys from deadlocking.
  const candidates = [...firstByKey.values()].sort((a, b) => {
    const ka = keyOf(a.event.source, a.event.eventId);
    const kb = keyOf(b.event.source, b.event.eventId);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });

  return db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtextextended(${batchId}, 0))`.execute(tx);

    const recorded = await tx
      .selectFrom('ingest_batches')
      .select(['event_count', 'accepted', 'duplicate', 'rejected'])
      .where('id', '=', batchId)
      .executeTakeFirst();
    if (recorded) {
      return {
        batchId,
        submissionId: job.submissionId,
        batchIndex: job.batchIndex,
        eventCount: recorded.event_count,
        accepted: recorded.accepted,
        duplicate: recorded.duplicate,
        rejected: recorded.rejected,
        alreadyRecorded: true,
      };
    }
    const submission = await tx
      .selectFrom('ingest_submissions')
      .select('id')
      .where('id', '=', job.submissionId)
      .executeTakeFirst();
    if (!submission) {
      throw new UnknownSubmissionError(`ingest submission ${job.submissionId} does not exist`);
    }

    const inserted = new Set<string>();
    if (candidates.length > 0) {
      const result = await sql<{ source: string; event_id: string }>`
        insert into events
          (source, event_id, type, schema_version, patient_key, occurred_on, payload, content_hash, batch_id)
        select s, e, t, v, p, o::date, pl::jsonb, h, ${batchId}
        from unnest(
          ${candidates.map((c) => c.event.source)}::text[],
          ${candidates.map((c) => c.event.eventId)}::text[],
          ${candidates.map((c) => c.event.type)}::text[],
          ${candidates.map((c) => c.event.schemaVersion)}::smallint[],
          ${candidates.map((c) => c.patientKey)}::text[],
          ${candidates.map((c) => c.event.occurredOn)}::text[],
          ${candidates.map((c) => JSON.stringify(c.event.payload))}::text[],
          ${candidates.map((c) => c.contentHash)}::text[]
        ) as u(s, e, t, v, p, o, pl, h)
        on conflict (source, event_id) do nothing
        returning source, event_id`.execute(tx);
      for (const row of result.rows) inserted.add(keyOf(row.source, row.event_id));
    }

    // The hash the ledger holds for every key of the batch: ours where we inserted, the earlier
    // row's otherwise (committed by another batch, possibly a concurrent one we waited for).
    const ledgerHash = new Map<string, string>();
    const notInserted = candidates.filter((c) => !inserted.has(keyOf(c.event.source, c.event.eventId)));
    for (const c of candidates) {
      const key = keyOf(c.event.source, c.event.eventId);
      if (inserted.has(key)) ledgerHash.set(key, c.contentHash);
    }
    if (notInserted.length > 0) {
      const existing = await sql<{ source: string; event_id: string; content_hash: string }>`
        select ev.source, ev.event_id, ev.content_hash
        from events ev
        join unnest(
          ${notInserted.map((c) => c.event.source)}::text[],
          ${notInserted.map((c) => c.event.eventId)}::text[]
        ) as k(s, e) on ev.source = k.s and ev.event_id = k.e`.execute(tx);
      for (const row of existing.rows) ledgerHash.set(keyOf(row.source, row.event_id), row.content_hash);
    }

    let accepted = 0;
    let duplicate = 0;
    const rejections: Rejection[] = [];
    for (const item of classified) {
      if (item.kind === 'invalid') {
        rejections.push({ ...item, kind: 'invalid' });
        continue;
      }
      const key = keyOf(item.event.source, item.event.eventId);
      if (firstByKey.get(key) === item && inserted.has(key)) {
        accepted++;
        continue;
      }
      const held = ledgerHash.get(key);
      if (held === undefined) {
        // Not inserted and not found: only possible if a row could vanish, which an append-only
        // ledger forbids. Fail the attempt rather than miscount.
        throw new Error(`ledger row for a conflicting key disappeared in batch ${batchId}`);
      }
      if (held === item.contentHash) {
        duplicate++;
      } else {
        rejections.push({
          index: item.index,
          line: item.line,
          raw: item.raw,
          kind: 'conflict',
          reasons: [conflictReason(item.event.source, item.event.eventId)],
          source: item.event.source,
          eventId: item.event.eventId,
          eventType: item.event.type,
        });
      }
    }

    if (rejections.length > 0) {
      await sql`
        insert into rejected_events
          (batch_id, item_index, line_number, source, event_id, event_type, kind, reasons, raw_body)
        select ${batchId}, i, l, s, e, t, k, r::jsonb, decode(b, 'hex')
        from unnest(
          ${rejections.map((r) => r.index)}::int[],
          ${rejections.map((r) => r.line)}::int[],
          ${rejections.map((r) => r.source)}::text[],
          ${rejections.map((r) => r.eventId)}::text[],
          ${rejections.map((r) => r.eventType)}::text[],
          ${rejections.map((r) => r.kind)}::text[],
          ${rejections.map((r) => JSON.stringify(r.reasons))}::text[],
          ${rejections.map((r) => encryptRawBody(options.rejectedBodyKey, r.raw).toString('hex'))}::text[]
        ) as u(i, l, s, e, t, k, r, b)`.execute(tx);
    }

    const account = {
      eventCount: job.items.length,
      accepted,
      duplicate,
      rejected: rejections.length,
    };
    await tx
      .insertInto('ingest_batches')
      .values({
        id: batchId,
        submission_id: job.submissionId,
        batch_index: job.batchIndex,
        event_count: account.eventCount,
        accepted: account.accepted,
        duplicate: account.duplicate,
        rejected: account.rejected,
      })
      .execute();
    return {
      batchId,
      submissionId: job.submissionId,
      batchIndex: job.batchIndex,
      ...account,
      alreadyRecorded: false,
    };
  });
}
