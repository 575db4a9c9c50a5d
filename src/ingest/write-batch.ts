import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { RejectionReason } from '../contract/events.js';
import { encryptRawBody } from '../crypto/raw-body-cipher.js';
import { poolOf } from '../db/connection.js';
import type { Database } from '../db/database.js';
import { UnknownSubmissionError } from '../errors.js';
import { type IngestJob, ingestJobId } from '../jobs/contracts.js';
import { classifyItem, type ValidItem } from './classify-item.js';
import { copyField } from './copy-text.js';

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

/** (source, eventId) order, comparing UTF-16 code units as `<` does. */
function byKey(a: ValidItem, b: ValidItem): number {
  const { source: sa, eventId: ea } = a;
  const { source: sb, eventId: eb } = b;
  if (sa !== sb) return sa < sb ? -1 : 1;
  return ea < eb ? -1 : ea > eb ? 1 : 0;
}

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
  const classifyOptions = {
    pseudonymKey: options.pseudonymKey,
    expectedSource: job.source,
    patientKeys: new Map<string, string>(),
  };
  const classified = job.items.map((item, index) => classifyItem(item, index, classifyOptions));

  // The valid items in (source, eventId) order. The sort is stable, so the first of each run of
  // equal keys is the key's first occurrence in the batch: the candidate offered to the ledger.
  // One order for every batch also keeps two batches with overlapping keys from deadlocking.
  const candidates: ValidItem[] = [];
  /** Item index -> the candidate of its key (itself when it is one). */
  const candidateOf: ValidItem[] = new Array(classified.length);
  for (const item of classified.filter((c): c is ValidItem => c.kind === 'valid').sort(byKey)) {
    const last = candidates[candidates.length - 1];
    if (last === undefined || byKey(last, item) !== 0) candidates.push(item);
    candidateOf[item.index] = candidates[candidates.length - 1] as ValidItem;
  }

  const pool = poolOf(db);
  if (!pool) throw new Error('writeIngestBatch needs a database made by createDatabase or databaseOnPool');
  return inTransaction(pool, async (client) => {
    // The lock is its own statement: a READ COMMITTED statement reads from the snapshot taken
    // when it starts, so the reads below must start after the lock is granted to see a
    // concurrent delivery's commit. Both reads then go in one round trip.
    await client.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [batchId]);
    const precheck = await client.query<{
      event_count: number | null;
      accepted: number | null;
      duplicate: number | null;
      rejected: number | null;
      submission_exists: boolean;
    }>(
      `select b.event_count, b.accepted, b.duplicate, b.rejected,
              exists (select 1 from ingest_submissions where id = $1) as submission_exists
       from (select 1) as one
       left join ingest_batches b on b.id = $2`,
      [job.submissionId, batchId],
    );
    const recorded = precheck.rows[0];
    if (recorded && recorded.event_count !== null) {
      return recordedAccount(job, {
        event_count: recorded.event_count,
        accepted: recorded.accepted ?? 0,
        duplicate: recorded.duplicate ?? 0,
        rejected: recorded.rejected ?? 0,
      });
    }
    if (!recorded?.submission_exists) {
      throw new UnknownSubmissionError(`ingest submission ${job.submissionId} does not exist`);
    }

    // The candidates go in as the bench's ceiling loads rows: COPY into a temporary table, then
    // one INSERT ... SELECT ... ON CONFLICT DO NOTHING (rows in the order written: sorted by key).
    // No RETURNING: the row count says whether every candidate went in (the usual case, and
    // then nothing more is asked); sending back and parsing a row per event costs more.
    let inserted = 0;
    if (candidates.length > 0) {
      await client.query(CREATE_INCOMING);
      await pipeline(
        Readable.from([copyRows(candidates)]),
        client.query(copyFrom(`copy ${INCOMING} from stdin`)),
      );
      const result = await client.query(
        `insert into events
           (source, event_id, type, schema_version, patient_key, occurred_on, payload, content_hash, batch_id)
         select source, event_id, type, schema_version, patient_key, occurred_on, payload, content_hash, $1
         from ${INCOMING}
         on conflict (source, event_id) do nothing`,
        [batchId],
      );
      inserted = result.rowCount ?? 0;
    }

    // Candidates not inserted are held by an earlier row (committed by another batch, possibly a
    // concurrent one we waited for; rows of this batch carry its id). Their count must be
    // exactly the rest, and only those whose hash differs (conflicts) come back, with the held
    // hash. Every other key of the batch is held with its candidate's hash. `limit 1` keeps
    // the lookup an index probe per row (the temporary table has no statistics to plan by).
    const conflictHeldHash = new Map<ValidItem, string>();
    if (inserted < candidates.length) {
      const lookup = await client.query<{ existing: number; ordinals: number[]; hashes: string[] }>(
        `select count(*)::int as existing,
                coalesce(array_agg(k.ord) filter (where ev.content_hash <> k.content_hash), '{}') as ordinals,
                coalesce(array_agg(ev.content_hash) filter (where ev.content_hash <> k.content_hash), '{}') as hashes
         from ${INCOMING} k
         cross join lateral (
           select e.content_hash, e.batch_id from events e
           where e.source = k.source and e.event_id = k.event_id limit 1
         ) ev
         where ev.batch_id <> $1`,
        [batchId],
      );
      const { existing, ordinals, hashes } = lookup.rows[0] ?? { existing: 0, ordinals: [], hashes: [] };
      if (existing + inserted !== candidates.length) {
        // A key neither inserted nor found: only possible if a row could vanish, which an
        // append-only ledger forbids. Fail the attempt rather than miscount.
        throw new Error(
          `ledger rows for ${candidates.length - inserted - existing} conflicting keys disappeared in batch ${batchId}`,
        );
      }
      ordinals.forEach((ordinal, n) => {
        conflictHeldHash.set(candidates[ordinal] as ValidItem, hashes[n] as string);
      });
    }

    let duplicate = 0;
    const rejections: Rejection[] = [];
    for (const item of classified) {
      if (item.kind === 'invalid') {
        rejections.push({ ...item, kind: 'invalid' });
        continue;
      }
      const candidate = candidateOf[item.index] as ValidItem;
      const conflictHash = conflictHeldHash.size > 0 ? conflictHeldHash.get(candidate) : undefined;
      // A candidate is accepted or a duplicate; which of the two is only counted (below).
      if (candidate === item && conflictHash === undefined) continue;
      if ((conflictHash ?? candidate.contentHash) === item.contentHash) {
        duplicate++;
      } else {
        rejections.push({
          index: item.index,
          line: item.line,
          raw: item.raw,
          kind: 'conflict',
          reasons: [conflictReason(item.source, item.eventId)],
          source: item.source,
          eventId: item.eventId,
          eventType: item.type,
        });
      }
    }
    // Candidates not inserted and not conflicting are duplicates of an earlier row.
    duplicate += candidates.length - inserted - conflictHeldHash.size;
    const accepted = inserted;

    if (rejections.length > 0) {
      await client.query(
        `insert into rejected_events
           (batch_id, item_index, line_number, source, event_id, event_type, kind, reasons, raw_body)
         select $1, i, l, s, e, t, k, r::jsonb, decode(b, 'hex')
         from unnest($2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
           as u(i, l, s, e, t, k, r, b)`,
        [
          batchId,
          rejections.map((r) => r.index),
          rejections.map((r) => r.line),
          rejections.map((r) => r.source),
          rejections.map((r) => r.eventId),
          rejections.map((r) => r.eventType),
          rejections.map((r) => r.kind),
          rejections.map((r) => JSON.stringify(r.reasons)),
          rejections.map((r) => encryptRawBody(options.rejectedBodyKey, r.raw).toString('hex')),
        ],
      );
    }

    const account = {
      eventCount: job.items.length,
      accepted,
      duplicate,
      rejected: rejections.length,
    };
    await client.query(
      `insert into ingest_batches (id, submission_id, batch_index, event_count, accepted, duplicate, rejected)
       values ($1, $2, $3, $4, $5, $6, $7)`,
      [
        batchId,
        job.submissionId,
        job.batchIndex,
        account.eventCount,
        account.accepted,
        account.duplicate,
        account.rejected,
      ],
    );
    return {
      batchId,
      submissionId: job.submissionId,
      batchIndex: job.batchIndex,
      ...account,
      alreadyRecorded: false,
    };
  });
}

/**
 * The staging table of a batch's candidates: temporary, emptied by every commit. Created "if not
 * exists" in each transaction (a catalog lookup once it exists) rather than remembered per
 * pooled client, so it stays right behind a transaction-mode pooler (PgBouncer), where a
 * client's transactions may run on different server sessions.
 */
const INCOMING = 'ingest_incoming';
const CREATE_INCOMING = `create temporary table if not exists ${INCOMING} (
  ord int not null, source text not null, event_id text not null, type text not null,
  schema_version smallint not null, patient_key text not null, occurred_on date not null,
  payload jsonb not null, content_hash text not null
) on commit delete rows`;

/** The candidates as COPY text, in their (key) order; `ord` is the index in `candidates`. */
function copyRows(candidates: readonly ValidItem[]): string {
  let text = '';
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i] as ValidItem;
    text += `${i}\t${copyField(c.source)}\t${copyField(c.eventId)}\t${copyField(c.type)}\t${c.schemaVersion}\t${c.patientKey}\t${c.occurredOn}\t${copyField(c.payloadJson)}\t${c.contentHash}\n`;
  }
  return text;
}

/**
 * Runs `work` in one transaction on one pooled session, raw (node-postgres, not Kysely: COPY
 * needs the client). On any error the transaction is rolled back; a session that cannot even
 * roll back is discarded instead of going back to the pool.
 */
async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

/** The recorded account of a batch already written, or undefined when it was not. */
export async function recordedBatchAccount(
  db: Kysely<Database>,
  batch: { submissionId: string; batchIndex: number },
): Promise<BatchAccount | undefined> {
  const row = await db
    .selectFrom('ingest_batches')
    .select(['event_count', 'accepted', 'duplicate', 'rejected'])
    .where('id', '=', ingestJobId(batch.submissionId, batch.batchIndex))
    .executeTakeFirst();
  return row && recordedAccount(batch, row);
}

/** A batch's account as recorded by the delivery that wrote it (nothing written this time). */
function recordedAccount(
  batch: { submissionId: string; batchIndex: number },
  row: { event_count: number; accepted: number; duplicate: number; rejected: number },
): BatchAccount {
  return {
    batchId: ingestJobId(batch.submissionId, batch.batchIndex),
    submissionId: batch.submissionId,
    batchIndex: batch.batchIndex,
    eventCount: row.event_count,
    accepted: row.accepted,
    duplicate: row.duplicate,
    rejected: row.rejected,
    alreadyRecorded: true,
  };
}
