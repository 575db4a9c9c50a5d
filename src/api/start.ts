import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { createDatabase } from '../db/connection.js';
import { createIngestQueue } from '../jobs/queues.js';
import { createRecomputeQueue } from '../jobs/recompute-queue.js';
import { createRedisConnection } from '../jobs/redis.js';
import type { Logger } from '../logger.js';
import type { ApiDeps } from './deps.js';
import { buildServer } from './server.js';

export type RunningApi = { app: FastifyInstance; deps: ApiDeps; close: () => Promise<void> };

/** Builds the dependencies, the server, and starts listening on config.http. */
export async function startApi(config: Config, logger: Logger): Promise<RunningApi> {
  const db = createDatabase({
    url: config.databaseUrl,
    poolMax: config.databasePoolMax,
    idleTimeoutMs: config.databasePoolIdleMs,
    applicationName: 'survflow-api',
  });
  const redis = createRedisConnection(config.redisUrl, 'producer', 'survflow-api');
  const deps: ApiDeps = {
    config,
    db,
    redis,
    ingestQueue: createIngestQueue(config, redis),
    recomputeQueue: createRecomputeQueue(config, redis),
    logger,
  };
  const closeDeps = async () => {
    await Promise.allSettled([deps.ingestQueue.close(), deps.recomputeQueue.close()]);
    await redis.quit().catch(() => redis.disconnect());
    await db.destroy();
  };
  let app: FastifyInstance;
  try {
    app = await buildServer(deps);
    await app.listen({ port: config.http.port, host: config.http.host });
  } catch (error) {
    await closeDeps();
    throw error;
  }
  return {
    app,
    deps,
    // Stop accepting connections and let in-flight requests finish (an intake request ends
    // after its batches are enqueued), then close the queues, Redis and the pool.
    close: async () => {
      await app.close();
      await closeDeps();
    },
  };
}
