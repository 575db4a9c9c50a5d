import { type Job, UnrecoverableError } from 'bullmq';
import { QUEUE_NAMES, type RecomputeJob, recomputeJobSchema } from '../jobs/contracts.js';
import {
  createRecomputeQueue,
  limitRecomputeToOneAtATime,
  registerRecomputeSchedule,
} from '../jobs/recompute-queue.js';
import { CombinationsCache } from '../recompute/combinations-cache.js';
import { type RecomputeOptions, runRecompute } from '../recompute/run-recompute.js';
import { SummaryThreads } from '../recompute/summary-threads.js';
import type { Processor, ProcessorDefinition, ProcessorDeps } from './processor.js';

export type RecomputeJobResult = { runId: string; cutoff: string };

/**
 * The processor of the `recompute` queue: parse the payload (poison -> UnrecoverableError), run
 * one recompute (src/recompute/run-recompute.ts), return the published run id (no patient data).
 */
export function createRecomputeProcessor(
  deps: ProcessorDeps,
  seams: { beforePublish?: RecomputeOptions['beforePublish'] } = {},
) {
  // Kept across this processor's runs (a worker runs one recompute at a time).
  const combinations = new CombinationsCache();
  const { statsThreads } = deps.config.recompute;
  const summaryThreads = statsThreads > 0 ? new SummaryThreads(statsThreads) : undefined;
  const processor = async (job: Job): Promise<RecomputeJobResult> => {
    const parsed = recomputeJobSchema.safeParse(job.data);
    if (!parsed.success) {
      const summary = parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`)
        .join('; ');
      throw new UnrecoverableError(`invalid recompute job payload: ${summary}`);
    }
    const data: RecomputeJob = parsed.data;
    const logger = deps.logger.child({ jobId: job.id, trigger: data.trigger });
    const outcome = await runRecompute(
      deps.db,
      deps.config,
      {
        cutoff: data.cutoff,
        full: data.full,
        trigger: data.trigger,
        jobId: job.id ?? null,
        requestedAt: data.requestedAt,
      },
      {
        logger,
        beforePublish: seams.beforePublish,
        combinations,
        summaryThreads,
        onProgress: (progress) => {
          job
            .updateProgress(progress)
            .catch((error: unknown) => logger.warn({ err: error }, 'could not report progress'));
        },
      },
    );
    return { runId: outcome.runId, cutoff: outcome.cutoff };
  };
  return Object.assign(processor, { close: async () => summaryThreads?.close() }) satisfies Processor;
}

/**
 * `survflow worker`'s recompute processor. Safe in any number of processes: at start-up each
 * process sets the queue's global concurrency to 1 and upserts the ONE nightly scheduler
 * (idempotent by id); each worker takes one job at a time; each run holds the recompute
 * advisory lock in PostgreSQL.
 */
export const recomputeProcessorDefinition: ProcessorDefinition = {
  queue: QUEUE_NAMES.recompute,
  concurrency: () => 1,
  create: (deps) => createRecomputeProcessor(deps),
  setup: async ({ config, logger, connection }) => {
    const queue = createRecomputeQueue(config, connection);
    try {
      await limitRecomputeToOneAtATime(queue);
      await registerRecomputeSchedule(queue, config);
    } finally {
      await queue.close();
    }
    logger.info(
      { cron: config.recompute.cron, timeZone: config.recompute.timeZone },
      'nightly recompute schedule registered',
    );
  },
  // Without statistics threads (RECOMPUTE_STATS_THREADS=0) a large cohort's summaries are
  // computed on the event loop, and the columns handed to the threads are built there too; a
  // long lock keeps a busy event loop from being taken for a dead worker. A killed worker's job is still recovered (stalled check).
  // RECOMPUTE_LOCK_DURATION_MS (default 5 min) is also how long a killed worker's run blocks the
  // queue (global concurrency 1) before the stalled check hands it to another worker.
  workerOptions: (config) => ({ lockDuration: config.recompute.lockDurationMs, maxStalledCount: 2 }),
};
