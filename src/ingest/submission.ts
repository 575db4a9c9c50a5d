import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { type Kysely, sql } from 'kysely';
import type { Database, IngestSubmissionsTable } from '../db/database.js';
import { InputError, NotFoundError } from '../errors.js';
import { type IngestItem, type IngestJob, ingestJobId, parseIngestJob } from '../jobs/contracts.js';
import { INGEST_JOB_NAME } from '../jobs/queues.js';

/**
 * Submissions: the unit a producer is accounted to (one CLI invocation, one HTTP request).
 * The producer opens a submission, enqueues its items in batches (deterministic job ids, with
 * backpressure), seals it with the totals, and can read its account at any time. Used by the
 * CLI and the HTTP intake alike.
 */

export const SUBMISSION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

export type Channel = IngestSubmissionsTable['channel'];

export type OpenSubmissionInput = {
  /** Given to resume an earlier submission (same input, same batch size); random otherwise. */
  id?: string;
  channel: Channel;
  source: string | null;
  description?: string | null;
};

export type OpenedSubmission = {
  id: string;
  resumed: boolean;
  sealed: boolean;
  /** The description recorded when the submission was first opened. */
  description: string | null;
};

export async function openSubmission(
  db: Kysely<Database>,
  input: OpenSubmissionInput,
): Promise<OpenedSubmission> {
  const id = input.id ?? randomUUID();
  if (!SUBMISSION_ID_PATTERN.test(id)) {
    throw new InputError(`submission id must match ${SUBMISSION_ID_PATTERN.source}: ${JSON.stringify(id)}`);
  }
  const inserted = await db
    .insertInto('ingest_submissions')
    .values({
      id,
      channel: input.channel,
      source: input.source,
      description: input.description ?? null,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (inserted) return { id, resumed: false, sealed: false, description: input.description ?? null };

  const existing = await db
    .selectFrom('ingest_submissions')
    .select(['source', 'sealed_at', 'description'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  if (existing.source !== input.source) {
    throw new InputError(
      `submission ${id} was opened with source ${existing.source ?? '(any)'}, not ${input.source ?? '(any)'}`,
    );
  }
  return { id, resumed: true, sealed: existing.sealed_at !== null, description: existing.description };
}

export type Backpressure = {
  /** Wait while more than this many batches of the queue are waiting to be processed. */
  maxPendingBatches: number;
  pollMs?: number;
  /** Called while waiting (e.g. to update a progress bar); never required. */
  onWait?: (pending: number) => void;
};

async function waitForRoom(queue: Queue, backpressure: Backpressure): Promise<void> {
  for (;;) {
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed');
    const pending = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
    if (pending < backpressure.maxPendingBatches) return;
    backpressure.onWait?.(pending);
    await new Promise((resolve) => setTimeout(resolve, backpressure.pollMs ?? 200));
  }
}

/**
 * Enqueues one batch under its deterministic job id (re-enqueueing an existing batch adds
 * nothing while BullMQ still holds the job, and the worker's account row makes it a no-op
 * afterwards). Waits first while the queue is full (backpressure), so a 10-million-line file
 * does not fill Redis.
 */
export async function enqueueBatch(
  queue: Queue,
  batch: { submissionId: string; batchIndex: number; source: string | null; items: IngestItem[] },
  backpressure: Backpressure,
): Promise<string> {
  const parsed = parseIngestJob(batch);
  if (!parsed.success) throw parsed.error;
  const payload: IngestJob = parsed.data;
  await waitForRoom(queue, backpressure);
  const jobId = ingestJobId(payload.submissionId, payload.batchIndex);
  await queue.add(INGEST_JOB_NAME, payload, { jobId });
  return jobId;
}

/** Records the totals once the last batch is enqueued; the account is complete when all arrive. */
export async function sealSubmission(
  db: Kysely<Database>,
  id: string,
  totals: { batchCount: number; eventCount: number },
): Promise<void> {
  const row = await db
    .selectFrom('ingest_submissions')
    .select(['batch_count', 'event_count', 'sealed_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`ingest submission ${id} does not exist`);
  if (row.sealed_at !== null) {
    if (row.batch_count !== totals.batchCount || row.event_count !== totals.eventCount) {
      throw new InputError(
        `submission ${id} was sealed with ${row.event_count} events in ${row.batch_count} batches, ` +
          `now ${totals.eventCount} in ${totals.batchCount}: resume with the same input and batch size`,
      );
    }
    return;
  }
  await db
    .updateTable('ingest_submissions')
    .set({ batch_count: totals.batchCount, event_count: totals.eventCount, sealed_at: sql`now()` })
    .where('id', '=', id)
    .execute();
}

export type RejectionSummary = {
  batchIndex: number;
  line: number | null;
  eventId: string | null;
  eventType: string | null;
  kind: 'invalid' | 'conflict';
  reasons: { path: string; message: string }[];
};

export type SubmissionAccount = {
  submissionId: string;
  channel: Channel;
  source: string | null;
  sealed: boolean;
  /** Known once sealed: events (items) submitted and batches enqueued. */
  submitted: number | null;
  batchCount: number | null;
  batchesAccounted: number;
  /** Items in the batches accounted so far (= submitted once complete). */
  processed: number;
  accepted: number;
  duplicate: number;
  rejected: number;
  /**
   * Rejection counts per reason. A reason is `path: message`; all conflicts count under one
   * reason. An input rejected for two reasons counts under both.
   */
  reasonCounts: Record<string, number>;
  /** The first rejections in input order. */
  rejections: RejectionSummary[];
  /** Batch indexes enqueued but not accounted yet (only known once sealed). */
  pendingBatches: number[];
  /** Sealed and every batch accounted. */
  complete: boolean;
};

export const CONFLICT_REASON_KEY = 'eventId: already received with different content (conflict)';

export async function getSubmissionAccount(
  db: Kysely<Database>,
  id: string,
  options: { firstRejections?: number } = {},
): Promise<SubmissionAccount> {
  const submission = await db
    .selectFrom('ingest_submissions')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!submission) throw new NotFoundError(`ingest submission ${id} does not exist`);

  const batches = await db
    .selectFrom('ingest_batches')
    .select(['batch_index', 'event_count', 'accepted', 'duplicate', 'rejected'])
    .where('submission_id', '=', id)
    .execute();

  const reasonRows = await sql<{ reason: string; n: number }>`
    select case when re.kind = 'conflict' then ${CONFLICT_REASON_KEY}
                else (r.value ->> 'path') || ': ' || (r.value ->> 'message') end as reason,
           count(*)::int as n
    from rejected_events re
    join ingest_batches b on b.id = re.batch_id
    cross join lateral jsonb_array_elements(re.reasons) as r(value)
    where b.submission_id = ${id}
    group by 1
    order by 2 desc, 1`.execute(db);

  const rejections = await db
    .selectFrom('rejected_events as re')
    .innerJoin('ingest_batches as b', 'b.id', 're.batch_id')
    .select(['b.batch_index', 're.line_number', 're.event_id', 're.event_type', 're.kind', 're.reasons'])
    .where('b.submission_id', '=', id)
    .orderBy('b.batch_index')
    .orderBy('re.item_index')
    .limit(options.firstRejections ?? 20)
    .execute();

  const sum = (key: 'event_count' | 'accepted' | 'duplicate' | 'rejected') =>
    batches.reduce((total, b) => total + b[key], 0);
  const accounted = new Set(batches.map((b) => b.batch_index));
  const pendingBatches: number[] = [];
  if (submission.batch_count !== null) {
    for (let i = 0; i < submission.batch_count; i++) if (!accounted.has(i)) pendingBatches.push(i);
  }
  const sealed = submission.sealed_at !== null;
  return {
    submissionId: id,
    channel: submission.channel,
    source: submission.source,
    sealed,
    submitted: submission.event_count,
    batchCount: submission.batch_count,
    batchesAccounted: batches.length,
    processed: sum('event_count'),
    accepted: sum('accepted'),
    duplicate: sum('duplicate'),
    rejected: sum('rejected'),
    reasonCounts: Object.fromEntries(reasonRows.rows.map((r) => [r.reason, r.n])),
    rejections: rejections.map((r) => ({
      batchIndex: r.batch_index,
      line: r.line_number,
      eventId: r.event_id,
      eventType: r.event_type,
      kind: r.kind,
      reasons: r.reasons,
    })),
    pendingBatches,
    complete: sealed && pendingBatches.length === 0,
  };
}

export type PendingBatchStatus = {
  /** Waiting, delayed (retrying after a failure) or being processed. */
  inFlight: number[];
  /** Failed for good (attempts exhausted or unrecoverable), with BullMQ's reason. */
  failed: { batchIndex: number; reason: string }[];
  /** Not in Redis at all (lost: Redis flushed or evicted, or removed): re-send the submission. */
  missing: number[];
};

/** Where the not-yet-accounted batches of a submission are, according to the queue. */
export async function inspectPendingBatches(
  queue: Queue,
  submissionId: string,
  batchIndexes: number[],
): Promise<PendingBatchStatus> {
  const status: PendingBatchStatus = { inFlight: [], failed: [], missing: [] };
  for (const batchIndex of batchIndexes) {
    const job = await queue.getJob(ingestJobId(submissionId, batchIndex));
    if (!job) {
      status.missing.push(batchIndex);
      continue;
    }
    const state = await job.getState();
    if (state === 'failed') status.failed.push({ batchIndex, reason: job.failedReason ?? 'unknown' });
    // 'completed' without an account row cannot persist (the row commits before the ack);
    // it is a race with our read, so treat it as in flight and let the next poll see the row.
    else status.inFlight.push(batchIndex);
  }
  return status;
}

export type WaitResult =
  | { outcome: 'complete'; account: SubmissionAccount }
  | { outcome: 'stuck'; account: SubmissionAccount; pending: PendingBatchStatus }
  | { outcome: 'timeout'; account: SubmissionAccount; pending: PendingBatchStatus };

/**
 * Polls the account until every batch is accounted. Asks Redis about the pending batches only
 * when progress has stalled for a few polls (that costs one lookup per batch), and stops early
 * when none of them can still arrive (each failed for good or missing from Redis); else at the
 * timeout.
 */
export async function waitForSubmission(
  db: Kysely<Database>,
  queue: Queue,
  id: string,
  options: {
    timeoutMs: number;
    pollMs?: number;
    /** Polls without progress before the queue is inspected (default 8). */
    stallPolls?: number;
    firstRejections?: number;
    onProgress?: (account: SubmissionAccount) => void;
  },
): Promise<WaitResult> {
  const deadline = Date.now() + options.timeoutMs;
  const pollMs = options.pollMs ?? 250;
  const stallPolls = options.stallPolls ?? 8;
  const read = () => getSubmissionAccount(db, id, { firstRejections: options.firstRejections });
  let lastAccounted = -1;
  let stalled = 0;
  for (;;) {
    const account = await read();
    options.onProgress?.(account);
    if (account.complete) return { outcome: 'complete', account };
    if (Date.now() >= deadline) {
      const pending = account.sealed
        ? await inspectPendingBatches(queue, id, account.pendingBatches)
        : { inFlight: [], failed: [], missing: [] };
      return { outcome: 'timeout', account, pending };
    }
    stalled = account.batchesAccounted === lastAccounted ? stalled + 1 : 0;
    lastAccounted = account.batchesAccounted;
    if (account.sealed && stalled >= stallPolls) {
      stalled = 0;
      const pending = await inspectPendingBatches(queue, id, account.pendingBatches);
      if (pending.inFlight.length === 0) {
        // Re-read: the last batches may have committed between the two reads.
        const again = await read();
        if (again.complete) return { outcome: 'complete', account: again };
        const recheck = await inspectPendingBatches(queue, id, again.pendingBatches);
        if (recheck.inFlight.length === 0) return { outcome: 'stuck', account: again, pending: recheck };
      }
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
