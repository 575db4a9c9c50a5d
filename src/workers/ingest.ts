import { type Job, UnrecoverableError } from 'bullmq';
import { UnknownSubmissionError } from '../errors.js';
import { type BatchAccount, recordedBatchAccount, writeIngestBatch } from '../ingest/write-batch.js';
import {
  parseIngestJob,
  QUEUE_NAMES,
  type WrittenIngestJob,
  writtenIngestJobSchema,
} from '../jobs/contracts.js';
import type { Logger } from '../logger.js';
import type { ProcessorDefinition, ProcessorDeps } from './processor.js';

/**
 * The ingest processor: parse the payload (a poison payload fails at once, without retries),
 * write the batch (one transaction), log counts only. A database failure throws, and BullMQ
 * retries the job with exponential backoff; the batch's account row makes the retry exact.
 */
export function createIngestProcessor(deps: ProcessorDeps) {
  return async (job: Job) => {
    // The runtime's logger already carries the queue name.
    const log = deps.logger.child({ jobId: job.id, attempt: job.attemptsMade + 1 });
    const parsed = parseIngestJob(job.data);
    if (!parsed.success) {
      // Off the hot path: a job reduced to its stub after its batch was written, delivered again.
      const written = writtenIngestJobSchema.safeParse(job.data);
      if (written.success) return completeWritten(deps, written.data, log);
      // Issue paths and messages only: zod messages do not echo input values.
      const summary = parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`)
        .join('; ');
      log.error({ issues: parsed.error.issues.length }, 'poison ingest payload');
      throw new UnrecoverableError(`invalid ingest job payload: ${summary}`);
    }
    const payload = parsed.data;
    const started = performance.now();
    try {
      const account = await writeIngestBatch(
        deps.db,
        { pseudonymKey: deps.config.pseudonymKey, rejectedBodyKey: deps.config.rejectedBodyKey },
        payload,
      );
      log.info(
        {
          submissionId: account.submissionId,
          batchIndex: account.batchIndex,
          itemCount: account.eventCount,
          accepted: account.accepted,
          duplicate: account.duplicate,
          rejected: account.rejected,
          alreadyRecorded: account.alreadyRecorded,
          ms: Math.round(performance.now() - started),
        },
        account.alreadyRecorded ? 'ingest batch already recorded' : 'ingest batch written',
      );
      // Committed: the completed job keeps the batch's identity and counts, not its raw lines.
      // (Should this fail, BullMQ retries the job, which finds the batch recorded.)
      await job.updateData({
        submissionId: payload.submissionId,
        batchIndex: payload.batchIndex,
        written: true,
      } satisfies WrittenIngestJob);
      return account;
    } catch (error) {
      if (error instanceof UnknownSubmissionError) {
        log.error({ submissionId: payload.submissionId }, error.message);
        throw new UnrecoverableError(error.message);
      }
      log.warn({ err: error, batchIndex: payload.batchIndex }, 'ingest batch failed; BullMQ retries it');
      throw error;
    }
  };
}

/** A delivery of a job whose payload was already reduced to its stub: its batch must be recorded. */
async function completeWritten(
  deps: ProcessorDeps,
  batch: WrittenIngestJob,
  log: Logger,
): Promise<BatchAccount> {
  const account = await recordedBatchAccount(deps.db, batch);
  if (!account) {
    log.error(
      { submissionId: batch.submissionId, batchIndex: batch.batchIndex },
      'written ingest job without a recorded batch',
    );
    throw new UnrecoverableError(
      `ingest job ${batch.submissionId}.${batch.batchIndex} says its batch was written, but no such batch is recorded`,
    );
  }
  log.info(
    { submissionId: batch.submissionId, batchIndex: batch.batchIndex },
    'ingest batch already recorded',
  );
  return account;
}

export const ingestProcessor: ProcessorDefinition = {
  queue: QUEUE_NAMES.ingest,
  concurrency: (config) => config.ingest.concurrency,
  create: createIngestProcessor,
};
