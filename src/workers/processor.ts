import type { Job, WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { QueueName } from '../jobs/contracts.js';
import type { Logger } from '../logger.js';

/** What every processor gets from the worker runtime. */
export type ProcessorDeps = { config: Config; db: Kysely<Database>; logger: Logger };

/**
 * A queue's job handler. `close`, when present, releases what the processor keeps between jobs
 * (e.g. the recompute's statistics threads); the runtime calls it after the worker has closed.
 */
export type Processor = ((job: Job) => Promise<unknown>) & { close?: () => Promise<void> };

/**
 * One queue's processor, in a file of its own (src/workers/<queue>.ts), listed in registry.ts.
 * `process` receives a BullMQ job and returns the job's result (stored in Redis, so keep it
 * small and free of patient data).
 */
export type ProcessorDefinition = {
  queue: QueueName;
  concurrency: (config: Config) => number;
  create: (deps: ProcessorDeps) => Processor;
  /** Optional start-up work (e.g. registering a repeatable schedule); runs before workers start. */
  setup?: (deps: ProcessorDeps & { connection: Redis }) => Promise<void>;
  /** Optional BullMQ worker settings (e.g. a longer lock for long-running jobs). */
  workerOptions?: (config: Config) => Pick<WorkerOptions, 'lockDuration' | 'maxStalledCount'>;
};
