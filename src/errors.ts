/**
 * Small named errors. Low-level failures are wrapped with `{ cause }` so the original stack
 * survives while the message says what survflow was doing.
 */

export class SurvflowError extends Error {
  override name = 'SurvflowError';
}

/** Input that cannot be accepted as given (a file, a CLI argument, an HTTP body). */
export class InputError extends SurvflowError {
  override name = 'InputError';
}

/** A database operation failed; usually transient (server restarting, connection lost). */
export class DatabaseError extends SurvflowError {
  override name = 'DatabaseError';
}

/** Redis or BullMQ failed. */
export class QueueError extends SurvflowError {
  override name = 'QueueError';
}

/** Something was looked up and is not there (a run, a batch). */
export class NotFoundError extends SurvflowError {
  override name = 'NotFoundError';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A job or request refers to an ingest submission that does not exist. Submissions are opened
 * before their batches are enqueued, so this is a poison payload, not a transient failure.
 */
export class UnknownSubmissionError extends SurvflowError {
  override name = 'UnknownSubmissionError';
}

/**
 * The maintained per-patient facts no longer agree with themselves (an invariant of the
 * incremental recompute broke); `survflow recompute --full` rebuilds them.
 */
export class FactsDriftError extends SurvflowError {
  override name = 'FactsDriftError';
}

/** A recompute holds the recompute lock, and the operation asked for must not run beside it. */
export class RecomputeBusyError extends SurvflowError {
  override name = 'RecomputeBusyError';
}
