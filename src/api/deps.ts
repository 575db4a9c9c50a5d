import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { RecomputeQueue } from '../jobs/recompute-queue.js';
import type { Logger } from '../logger.js';

/**
 * What the HTTP server needs, built by the caller (the `survflow api` command or a test) and
 * closed by it: the server owns none of these, so a test can share them and inspect them.
 */
export type ApiDeps = {
  config: Config;
  db: Kysely<Database>;
  /** A producer connection (bounded retries): used for the queues and for /readyz. */
  redis: Redis;
  ingestQueue: Queue;
  recomputeQueue: RecomputeQueue;
  logger: Logger;
};
