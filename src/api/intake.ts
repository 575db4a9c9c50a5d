import { createHash } from 'node:crypto';
import type { RejectionReason } from '../contract/events.js';
import { SurvflowError } from '../errors.js';
import { storableText } from '../ingest/storable-text.js';
import { type Channel, enqueueBatch, openSubmission, sealSubmission } from '../ingest/submission.js';
import type { IngestItem } from '../jobs/contracts.js';
import type { ApiDeps } from './deps.js';

/**
 * HTTP submissions. A request's items (each already marked with its edge rejection, if any)
 * become one ingest submission: enqueued in batches with backpressure and sealed with its totals,
 * so its account (`GET /v1/batches/:id`) adds up to the items sent. Idempotent: the submission id
 * derives from the source and the Idempotency-Key header (or, without one, the body's SHA-256),
 * so a re-send of the same request maps to the same submission and enqueues nothing new.
 */

export class IdempotencyConflictError extends SurvflowError {
  override name = 'IdempotencyConflictError';
}

/** The queue stayed full for longer than a request should wait: the client should retry. */
export class QueueBusyError extends SurvflowError {
  override name = 'QueueBusyError';
}

export type EdgeRejection = {
  /** 0-based position of the item in the request (array element, NDJSON item, bundle entry). */
  index: number;
  /** 1-based line (NDJSON, CSV) or element number. */
  line: number | null;
  /** FHIR `Type/id` of the resource, for bundles. */
  resource?: string;
  reasons: RejectionReason[];
};

export type IntakeItem = IngestItem & { index: number; resource?: string };

export type IntakeAnswer = {
  batchId: string;
  status: 'enqueued';
  replayed: boolean;
  received: number;
  enqueued: number;
  rejectedAtEdge: number;
  rejections: EdgeRejection[];
  rejectionsTruncated: boolean;
  supporting?: { index: number; resource: string; note: string }[];
  account: string;
};

const MAX_LISTED_REJECTIONS = 1_000;
const MAX_QUEUE_WAIT_MS = 15_000;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The ingest job contract bounds an item's reasons (50, 500 / 2,000 characters). */
function withinJobLimits(reasons: RejectionReason[]): RejectionReason[] {
  return reasons
    .slice(0, 50)
    .map((r) => ({ path: r.path.slice(0, 500), message: r.message.slice(0, 2_000) }));
}

export async function submitItems(
  deps: ApiDeps,
  request: {
    source: string;
    channel: Channel;
    idempotencyKey: string | undefined;
    bodySha256: string;
    items: IntakeItem[];
    supporting?: IntakeAnswer['supporting'];
  },
): Promise<IntakeAnswer> {
  const { db, config } = deps;
  const key = request.idempotencyKey ?? `sha256:${request.bodySha256}`;
  const previous = await db
    .selectFrom('api_submissions')
    .selectAll()
    .where('source', '=', request.source)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
  if (previous) {
    if (previous.body_sha256 !== request.bodySha256) {
      throw new IdempotencyConflictError(
        `Idempotency-Key ${JSON.stringify(key)} was used with a different body (submission ${previous.submission_id})`,
      );
    }
    return { ...(previous.response as IntakeAnswer), replayed: true };
  }

  const submissionId = `${request.channel}-${sha256Hex(`${request.source}\u0000${key}`).slice(0, 32)}`;
  const opened = await openSubmission(db, {
    id: submissionId,
    channel: request.channel,
    source: request.source,
    description: JSON.stringify({ idempotencyKey: key, bodySha256: request.bodySha256 }),
  });
  if (opened.resumed) {
    // A crash between enqueueing and recording the answer: finish the same submission, unless
    // the Idempotency-Key now comes with another body.
    const before = JSON.parse(opened.description ?? '{}') as { bodySha256?: string };
    if (before.bodySha256 !== request.bodySha256) {
      throw new IdempotencyConflictError(
        `Idempotency-Key ${JSON.stringify(key)} was used with a different body`,
      );
    }
  }

  const batchSize = config.ingest.batchSize;
  let batchCount = 0;
  const queueWaitDeadline = Date.now() + MAX_QUEUE_WAIT_MS;
  for (let start = 0; start < request.items.length; start += batchSize) {
    const items = request.items
      .slice(start, start + batchSize)
      .map(
        ({ line, raw, rejection }): IngestItem =>
          rejection ? { line, raw, rejection: withinJobLimits(rejection) } : { line, raw },
      );
    await enqueueBatch(
      deps.ingestQueue,
      { submissionId, batchIndex: batchCount, source: request.source, items },
      {
        maxPendingBatches: config.ingest.maxPendingBatches,
        onWait: () => {
          if (Date.now() > queueWaitDeadline) {
            throw new QueueBusyError('the ingest queue is full; retry later with the same Idempotency-Key');
          }
        },
      },
    );
    batchCount++;
  }
  await sealSubmission(db, submissionId, { batchCount, eventCount: request.items.length });

  const rejected = request.items.filter((item) => item.rejection);
  const answer: IntakeAnswer = {
    batchId: submissionId,
    status: 'enqueued',
    replayed: false,
    received: request.items.length,
    enqueued: request.items.length - rejected.length,
    rejectedAtEdge: rejected.length,
    rejections: rejected.slice(0, MAX_LISTED_REJECTIONS).map((item) => ({
      index: item.index,
      line: item.line,
      // Stored as jsonb below: text PostgreSQL cannot hold (NUL, lone surrogates) is replaced.
      ...(item.resource ? { resource: storableText(item.resource, 300) } : {}),
      reasons: (item.rejection ?? []).map((r) => ({
        path: storableText(r.path, 500),
        message: storableText(r.message, 2_000),
      })),
    })),
    rejectionsTruncated: rejected.length > MAX_LISTED_REJECTIONS,
    ...(request.supporting
      ? {
          supporting: request.supporting.map((x) => ({
            ...x,
            resource: storableText(x.resource, 300),
            note: storableText(x.note, 2_000),
          })),
        }
      : {}),
    account: `/v1/batches/${submissionId}`,
  };
  await db
    .insertInto('api_submissions')
    .values({
      submission_id: submissionId,
      source: request.source,
      idempotency_key: key,
      body_sha256: request.bodySha256,
      response: JSON.stringify(answer),
    })
    .onConflict((oc) => oc.doNothing())
    .execute();
  return answer;
}
