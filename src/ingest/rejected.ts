import type { Queue } from 'bullmq';
import { type Kysely, sql } from 'kysely';
import { decryptRawBody } from '../crypto/raw-body-cipher.js';
import type { Database } from '../db/database.js';
import { InputError, NotFoundError } from '../errors.js';
import {
  type Backpressure,
  enqueueBatch,
  openSubmission,
  type SubmissionAccount,
  sealSubmission,
  type WaitResult,
  waitForSubmission,
} from './submission.js';

/**
 * Operators' view of rejected inputs (`survflow rejected list|show|retry`). Raw bodies are
 * stored encrypted (they can carry an MRN) and are decrypted only by `show` and `retry`.
 *
 * Resolution: a rejected input is resolved when a retry of its raw body is accounted as
 * accepted or duplicate (the ledger now holds that event). A retry that is rejected again
 * leaves it unresolved; the new rejection is recorded under the retry submission as well.
 */

export type RejectedRow = {
  id: string;
  receivedAt: Date;
  source: string | null;
  eventId: string | null;
  eventType: string | null;
  kind: 'invalid' | 'conflict';
  reasons: { path: string; message: string }[];
  resolvedAt: Date | null;
  submissionId: string;
  line: number | null;
};

export type RejectedFilter = {
  since?: string;
  kind?: 'invalid' | 'conflict';
  unresolved?: boolean;
  limit?: number;
};

const ID_PATTERN = /^[1-9]\d{0,18}$/;

function baseQuery(db: Kysely<Database>) {
  return db
    .selectFrom('rejected_events as re')
    .innerJoin('ingest_batches as b', 'b.id', 're.batch_id')
    .select([
      're.id',
      're.received_at',
      're.source',
      're.event_id',
      're.event_type',
      're.kind',
      're.reasons',
      're.resolved_at',
      'b.submission_id',
      're.line_number',
    ]);
}

type BaseRow = Awaited<ReturnType<ReturnType<typeof baseQuery>['execute']>>[number];

function toRow(r: BaseRow): RejectedRow {
  return {
    id: String(r.id),
    receivedAt: new Date(r.received_at as unknown as string),
    source: r.source,
    eventId: r.event_id,
    eventType: r.event_type,
    kind: r.kind,
    reasons: r.reasons,
    resolvedAt: r.resolved_at,
    submissionId: r.submission_id,
    line: r.line_number,
  };
}

export async function listRejected(
  db: Kysely<Database>,
  filter: RejectedFilter = {},
): Promise<RejectedRow[]> {
  let query = baseQuery(db)
    .orderBy('re.id')
    .limit(filter.limit ?? 1000);
  if (filter.since !== undefined) {
    if (Number.isNaN(Date.parse(filter.since))) throw new InputError(`--since: not a date: ${filter.since}`);
    query = query.where('re.received_at', '>=', new Date(filter.since));
  }
  if (filter.kind !== undefined) query = query.where('re.kind', '=', filter.kind);
  if (filter.unresolved) query = query.where('re.resolved_at', 'is', null);
  return (await query.execute()).map(toRow);
}

export function checkRejectedId(id: string): string {
  if (!ID_PATTERN.test(id))
    throw new InputError(`not a rejected-input id: ${JSON.stringify(id.slice(0, 40))}`);
  return id;
}

/** One rejected input with its decrypted raw body. */
export async function showRejected(
  db: Kysely<Database>,
  rejectedBodyKey: Buffer,
  id: string,
): Promise<RejectedRow & { raw: string }> {
  checkRejectedId(id);
  const row = await baseQuery(db).select('re.raw_body').where('re.id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError(`rejected input ${id} does not exist`);
  return { ...toRow(row), raw: decryptRawBody(rejectedBodyKey, row.raw_body) };
}

export type RetryResult = {
  submissionId: string;
  outcome: WaitResult['outcome'];
  account: SubmissionAccount;
  /** Ids now resolved (their retry was accepted or duplicate). */
  resolved: string[];
  /** Ids whose retry was rejected again, or not accounted (timeout). */
  unresolved: string[];
};

/**
 * Re-sends the decrypted raw bodies of `ids` as a new submission of channel `retry` (one item
 * per id, in the order given), waits for its account, and marks resolved exactly the ids whose
 * item was accepted or duplicate. Each event's own `source` applies (the operator is trusted).
 */
export async function retryRejected(
  db: Kysely<Database>,
  queue: Queue,
  options: { rejectedBodyKey: Buffer; timeoutMs: number; backpressure: Backpressure; batchSize?: number },
  ids: string[],
): Promise<RetryResult> {
  if (ids.length === 0) throw new InputError('give at least one rejected-input id');
  const unique = [...new Set(ids.map(checkRejectedId))];
  const rows = await db
    .selectFrom('rejected_events')
    .select(['id', 'raw_body'])
    .where('id', 'in', unique)
    .execute();
  const byId = new Map(rows.map((r) => [String(r.id), r.raw_body]));
  const missing = unique.filter((id) => !byId.has(id));
  if (missing.length > 0) throw new NotFoundError(`rejected inputs not found: ${missing.join(', ')}`);

  const opened = await openSubmission(db, {
    channel: 'retry',
    source: null,
    description: JSON.stringify({ retryOf: unique }),
  });
  const batchSize = options.batchSize ?? 500;
  let batchCount = 0;
  for (let start = 0; start < unique.length; start += batchSize) {
    const slice = unique.slice(start, start + batchSize);
    await enqueueBatch(
      queue,
      {
        submissionId: opened.id,
        batchIndex: batchCount++,
        source: null,
        items: slice.map((id, k) => ({
          line: start + k + 1,
          raw: decryptRawBody(options.rejectedBodyKey, byId.get(id) as Buffer),
        })),
      },
      options.backpressure,
    );
  }
  await sealSubmission(db, opened.id, { batchCount, eventCount: unique.length });
  const result = await waitForSubmission(db, queue, opened.id, { timeoutMs: options.timeoutMs });

  // Items of the retry that were rejected again, by their position in `unique`.
  const again = await sql<{ position: number }>`
    select b.batch_index * ${batchSize} + re.item_index as position
    from rejected_events re join ingest_batches b on b.id = re.batch_id
    where b.submission_id = ${opened.id}`.execute(db);
  const rejectedAgain = new Set(again.rows.map((r) => Number(r.position)));
  const accounted = await db
    .selectFrom('ingest_batches')
    .select('batch_index')
    .where('submission_id', '=', opened.id)
    .execute();
  const accountedBatches = new Set(accounted.map((b) => b.batch_index));
  const resolved: string[] = [];
  const unresolved: string[] = [];
  unique.forEach((id, position) => {
    const batchDone = accountedBatches.has(Math.floor(position / batchSize));
    if (batchDone && !rejectedAgain.has(position)) resolved.push(id);
    else unresolved.push(id);
  });
  if (resolved.length > 0) {
    await db
      .updateTable('rejected_events')
      .set({ resolved_at: sql`now()`, resolved_by: opened.id })
      .where('id', 'in', resolved)
      .where('resolved_at', 'is', null)
      .execute();
  }
  return { submissionId: opened.id, outcome: result.outcome, account: result.account, resolved, unresolved };
}
