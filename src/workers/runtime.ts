import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { checkEvictionPolicy, createRedisConnection } from '../jobs/redis.js';
import type { Logger } from '../logger.js';
import type { Processor, ProcessorDefinition } from './processor.js';
import { PROCESSORS } from './registry.js';

export type WorkerRuntime = {
  workers: Worker[];
  /** Stops taking jobs, waits for the ones in flight, closes the workers and Redis. Idempotent. */
  close: () => Promise<void>;
};

/**
 * Starts one BullMQ Worker per processor. Each worker gets its own blocking Redis connection
 * (BullMQ duplicates the one given); the database is the caller's, and the caller destroys it
 * after `close()`, because in-flight jobs still use it while the workers drain.
 */
export async function startWorkers(options: {
  config: Config;
  db: Kysely<Database>;
  logger: Logger;
  processors?: readonly ProcessorDefinition[];
}): Promise<WorkerRuntime> {
  const { config, db, logger } = options;
  const processors = options.processors ?? PROCESSORS;
  const connection: Redis = createRedisConnection(config.redisUrl, 'worker', 'survflow-worker');
  await checkEvictionPolicy(connection, logger);

  const workers: Worker[] = [];
  const created: Processor[] = [];
  const closeProcessors = () => Promise.all(created.map((processor) => processor.close?.()));
  try {
    for (const definition of processors) {
      const deps = { config, db, logger: logger.child({ queue: definition.queue }) };
      await definition.setup?.({ ...deps, connection });
      const processor = definition.create(deps);
      created.push(processor);
      const worker = new Worker(definition.queue, processor, {
        connection,
        prefix: config.queuePrefix,
        concurrency: definition.concurrency(config),
        lockDuration: config.worker.lockDurationMs,
        stalledInterval: config.worker.stalledIntervalMs,
        maxStalledCount: config.worker.maxStalledCount,
        autorun: true,
        ...definition.workerOptions?.(config),
      });
      worker.on('failed', (job, error) => {
        deps.logger.warn(
          {
            jobId: job?.id,
            attemptsMade: job?.attemptsMade,
            err: { name: error.name, message: error.message },
          },
          'job failed',
        );
      });
      worker.on('error', (error) => deps.logger.error({ err: error }, 'worker error'));
      workers.push(worker);
    }
    await Promise.all(workers.map((w) => w.waitUntilReady()));
  } catch (error) {
    await Promise.allSettled(workers.map((w) => w.close()));
    await closeProcessors().catch((closeError: unknown) =>
      logger.warn({ err: closeError }, 'could not close a processor after a failed start'),
    );
    connection.disconnect();
    throw error;
  }
  logger.info({ queues: processors.map((p) => p.queue), prefix: config.queuePrefix }, 'workers started');

  let closing: Promise<void> | undefined;
  return {
    workers,
    close: () => {
      closing ??= (async () => {
        // worker.close() stops fetching and waits for in-flight jobs to finish; only then may
        // what the processors keep between jobs go.
        await Promise.all(workers.map((w) => w.close()));
        await closeProcessors();
        await connection.quit().catch(() => connection.disconnect());
      })();
      return closing;
    },
  };
}
