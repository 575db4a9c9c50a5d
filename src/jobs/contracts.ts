import { z } from 'zod';
import { compileAcceptor } from '../contract/compile-acceptor.js';
import { clinicalDate } from '../contract/events.js';

/**
 * Job contracts: every queue's name and the zod schema of its job payload. Producers build
 * payloads with these types; every processor parses its payload with the schema and fails
 * the job with BullMQ's UnrecoverableError when it does not parse (a poison payload would
 * fail the same way on every retry).
 */

export const QUEUE_NAMES = { ingest: 'ingest', recompute: 'recompute' } as const;
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/** One submitted input, exactly as received: a line of a file, an element of a JSON array. */
export const ingestItemSchema = z.strictObject({
  /** 1-based line (NDJSON, CSV) or element number in the submission, for error messages. */
  line: z.number().int().positive().nullable(),
  /** The raw text of the item. The worker parses it, so malformed input is kept verbatim. */
  raw: z.string(),
  /**
   * Set by an intake edge that already knows why the item cannot be accepted (an unmappable
   * FHIR resource, a bad CSV cell, a retraction of another source's event): the worker records
   * it as rejected with these reasons and its raw body, so it is accounted like any other.
   */
  rejection: z
    .array(z.strictObject({ path: z.string().max(500), message: z.string().max(2_000) }))
    .min(1)
    .max(50)
    .optional(),
});
export type IngestItem = z.infer<typeof ingestItemSchema>;

export const ingestJobSchema = z.strictObject({
  submissionId: z.string().min(1).max(200),
  batchIndex: z.number().int().min(0),
  /**
   * The authenticated (HTTP) or operator-given (CLI --source) source. When set, an event
   * claiming another source is rejected; when null, each event's own `source` is used.
   */
  source: z.string().min(1).max(100).nullable(),
  items: z.array(ingestItemSchema).min(1).max(10_000),
});
export type IngestJob = z.infer<typeof ingestJobSchema>;

/**
 * What an ingest job keeps in Redis once its batch is committed: the batch's identity, not its
 * items. The worker replaces the payload with this before completing the job, so the raw lines
 * (patient identifiers in the clear, SPEC section 6) do not stay in the completed-jobs list; the
 * job's return value keeps the counts. A job still carrying this stub when it is delivered again
 * (its worker died between the two steps) completes from the batch's recorded account.
 */
export const writtenIngestJobSchema = z.strictObject({
  submissionId: z.string().min(1).max(200),
  batchIndex: z.number().int().min(0),
  written: z.literal(true),
});
export type WrittenIngestJob = z.infer<typeof writtenIngestJobSchema>;

const acceptsIngestJob = compileAcceptor(ingestJobSchema);

/**
 * `ingestJobSchema.safeParse`, without copying a well-formed payload (thousands of items, read
 * by the producer and again by the worker for every batch): such a payload is returned as it is.
 */
export function parseIngestJob(data: unknown): ReturnType<typeof ingestJobSchema.safeParse> {
  if (acceptsIngestJob?.(data)) return { success: true, data: data as IngestJob };
  return ingestJobSchema.safeParse(data);
}

export const recomputeJobSchema = z.strictObject({
  /** Data cutoff; absent means the run date (UTC) at the time the run starts. */
  cutoff: clinicalDate.optional(),
  trigger: z.enum(['schedule', 'cli', 'api', 'test']),
  requestedAt: z.iso.datetime(),
  /** Derive every patient again instead of only those touched since the last run. */
  full: z.boolean().optional(),
});
export type RecomputeJob = z.infer<typeof recomputeJobSchema>;

/** Deterministic BullMQ job id of a batch: a re-send of the same submission enqueues nothing new. */
export function ingestJobId(submissionId: string, batchIndex: number): string {
  // BullMQ reserves ':' in custom ids; keep ids to a safe alphabet.
  return `${submissionId.replace(/[^A-Za-z0-9_.-]/g, '_')}.${batchIndex}`;
}
