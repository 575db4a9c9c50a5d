import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { QUEUE_NAMES, type RecomputeJob } from './contracts.js';

/** The id of the nightly job scheduler: one id, so N workers upserting it make one schedule. */
export const RECOMPUTE_SCHEDULER_ID = 'recompute-nightly';
export const RECOMPUTE_JOB_NAME = 'recompute';

export type RecomputeQueue = Queue<RecomputeJob, unknown, string>;

export function createRecomputeQueue(config: Config, connection: Redis): RecomputeQueue {
  return new Queue<RecomputeJob, unknown, string>(QUEUE_NAMES.recompute, {
    connection,
    prefix: config.queuePrefix,
    defaultJobOptions: recomputeJobOptions(config),
  });
}

/**
 * One attempt: a recompute that fails deterministically would fail again, and the schedule runs
 * again tomorrow. A run whose process is killed is not an attempt: BullMQ's stalled-job check
 * hands the job to another worker, which marks the dead run abandoned and starts over.
 */
function recomputeJobOptions(config: Config): JobsOptions {
  return {
    attempts: 1,
    removeOnComplete: { count: config.jobs.keepCompleted },
    removeOnFail: { count: config.jobs.keepFailed },
  };
}

/**
 * At most one recompute job active at a time across every worker process (a Redis-side limit;
 * each worker also runs with concurrency 1, and the run holds a PostgreSQL advisory lock).
 */
export async function limitRecomputeToOneAtATime(queue: RecomputeQueue): Promise<void> {
  await queue.setGlobalConcurrency(1);
}

/**
 * The deduplication id of a request: requests for the same cutoff coalesce. A full rebuild has
 * its own id, so it is never swallowed by a waiting incremental request (or the reverse).
 */
export function recomputeDeduplicationId(cutoff: string | undefined, full = false): string {
  return `recompute.${cutoff ?? 'run-date'}${full ? '.full' : ''}`;
}

/**
 * Asks for a recompute now. Coalescing: while a run for the same cutoff is waiting, a new request
 * joins it; while one is active, the newest request is kept (BullMQ `keepLastIfActive`) and
 * becomes exactly one follow-up job when the active run finishes, so a trigger during a run is
 * never lost and never multiplied.
 */
export async function enqueueRecompute(
  queue: RecomputeQueue,
  request: {
    cutoff?: string | undefined;
    trigger: RecomputeJob['trigger'];
    requestedAt?: Date;
    full?: boolean | undefined;
  },
): Promise<{ jobId: string | undefined; data: RecomputeJob }> {
  const data: RecomputeJob = {
    ...(request.cutoff === undefined ? {} : { cutoff: request.cutoff }),
    ...(request.full ? { full: true } : {}),
    trigger: request.trigger,
    requestedAt: (request.requestedAt ?? new Date()).toISOString(),
  };
  const job = await queue.add(RECOMPUTE_JOB_NAME, data, {
    deduplication: {
      id: recomputeDeduplicationId(request.cutoff, request.full === true),
      keepLastIfActive: true,
    },
  });
  return { jobId: job.id, data };
}

/**
 * Registers (or updates) the nightly schedule. `upsertJobScheduler` is keyed by the scheduler id,
 * so every worker process calling it at start-up, and every redeploy, leaves exactly one schedule
 * with the configured cron pattern and time zone.
 */
export async function registerRecomputeSchedule(queue: RecomputeQueue, config: Config): Promise<void> {
  await queue.upsertJobScheduler(
    RECOMPUTE_SCHEDULER_ID,
    { pattern: config.recompute.cron, tz: config.recompute.timeZone },
    {
      name: RECOMPUTE_JOB_NAME,
      data: { trigger: 'schedule', requestedAt: new Date().toISOString() },
      opts: recomputeJobOptions(config),
    },
  );
}
