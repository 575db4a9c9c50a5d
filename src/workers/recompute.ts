import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { QUEUE_NAMES, type RecomputeJob, recomputeJobSchema } from '../jobs/contracts.js';
import {
  createRecomputeQueue,
  limitRecomputeToOneAtATime,
  type RecomputeQueue,
  registerRecomputeSchedule,
} from '../jobs/recompute-queue.js';
import type { Logger } from '../logger.js';
import { type RecomputeOptions, runRecompute } from '../recompute/run-recompute.js';

export type RecomputeJobResult = { runId: string; cutoff: string };

export type RecomputeWorkerDeps = {
  config: Config;
  db: Kysely<Database>;
  logger: Logger;
  /** A worker-role Redis connection (maxRetriesPerRequest: null). */
  connection: Redis;
  /** Test seam passed to every run. */
  beforePublish?: RecomputeOptions['beforePublish'];
};

/** The processor of the `recompute` queue: parse the payload, run, return the published run id. */
export function recomputeProcessor(deps: Omit<RecomputeWorkerDeps, 'connection'>) {
  return async (job: Job<unknown, RecomputeJobResult>): Promise<RecomputeJobResult> => {
    const parsed = recomputeJobSchema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(`invalid recompute job payload: ${parsed.error.issues[0]?.message ?? ''}`);
    }
    const data: RecomputeJob = parsed.data;
    const logger = deps.logger.child({ queue: QUEUE_NAMES.recompute, jobId: job.id, trigger: data.trigger });
    let lastProgressAt = 0;
    const outcome = await runRecompute(
      deps.db,
      deps.config,
      { cutoff: data.cutoff, trigger: data.trigger, jobId: job.id ?? null, requestedAt: data.requestedAt },
      {
        logger,
        beforePublish: deps.beforePublish,
        onProgress: (progress) => {
          const now = Date.now();
          if (now - lastProgressAt < 500 && progress.stage === 'loading patients') return;
          lastProgressAt = now;
          job
            .updateProgress(progress)
            .catch((error: unknown) => logger.warn({ err: error }, 'progress update failed'));
        },
      },
    );
    return { runId: outcome.runId, cutoff: outcome.cutoff };
  };
}

export type RecomputeWorkerHandle = { worker: Worker; queue: RecomputeQueue; close: () => Promise<void> };

/**
 * Starts the recompute worker of this process and registers the nightly schedule. Safe to run in
 * any number of processes: the schedule upsert is idempotent, the queue's global concurrency is
 * 1, each worker takes one job at a time, and each run holds the recompute advisory lock.
 */
export async function startRecomputeWorker(deps: RecomputeWorkerDeps): Promise<RecomputeWorkerHandle> {
  const queue = createRecomputeQueue(deps.config, deps.connection);
  await limitRecomputeToOneAtATime(queue);
  await registerRecomputeSchedule(queue, deps.config);
  const worker = new Worker(QUEUE_NAMES.recompute, recomputeProcessor(deps), {
    connection: deps.connection,
    prefix: deps.config.queuePrefix,
    concurrency: 1,
    // A large cohort's summaries are computed synchronously; a long lock keeps a busy event loop
    // from being mistaken for a dead worker (a killed worker's job is still recovered).
    lockDuration: 5 * 60_000,
    maxStalledCount: 2,
  });
  worker.on('failed', (job, error) =>
    deps.logger.error({ queue: QUEUE_NAMES.recompute, jobId: job?.id, err: error }, 'recompute job failed'),
  );
  worker.on('error', (error) => deps.logger.error({ err: error }, 'recompute worker error'));
  deps.logger.info(
    { cron: deps.config.recompute.cron, timeZone: deps.config.recompute.timeZone },
    'recompute worker started; nightly schedule registered',
  );
  return {
    worker,
    queue,
    close: async () => {
      await worker.close();
      await queue.close();
    },
  };
}
