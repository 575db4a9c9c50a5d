import { type DefaultJobOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { QUEUE_NAMES, type QueueName } from './contracts.js';

/**
 * Queue objects, all under `config.queuePrefix`, with the default job options every producer
 * gets: bounded retries with exponential backoff, and bounded retention of finished jobs so
 * Redis does not grow without bound (the account lives in PostgreSQL, not in Redis).
 */
export function defaultJobOptions(config: Config): DefaultJobOptions {
  return {
    attempts: config.ingest.attempts,
    backoff: { type: 'exponential', delay: config.ingest.backoffMs },
    removeOnComplete: { count: config.jobs.keepCompleted },
    removeOnFail: { count: config.jobs.keepFailed },
  };
}

export function createQueue(config: Config, name: QueueName, connection: Redis): Queue {
  return new Queue(name, {
    connection,
    prefix: config.queuePrefix,
    defaultJobOptions: defaultJobOptions(config),
  });
}

export function createIngestQueue(config: Config, connection: Redis): Queue {
  return createQueue(config, QUEUE_NAMES.ingest, connection);
}

/** The job name of ingest batches (informative only: processors dispatch on the queue). */
export const INGEST_JOB_NAME = 'ingest-batch';
