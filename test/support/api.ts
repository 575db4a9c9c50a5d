import { once } from 'node:events';
import { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { inject } from 'vitest';
import type { ApiDeps } from '../../src/api/deps.js';
import { buildServer } from '../../src/api/server.js';
import { createSourceKey } from '../../src/auth/api-keys.js';
import type { Config } from '../../src/config.js';
import type { ApiScope } from '../../src/db/database.js';
import { QUEUE_NAMES } from '../../src/jobs/contracts.js';
import { createIngestQueue } from '../../src/jobs/queues.js';
import { createRecomputeQueue } from '../../src/jobs/recompute-queue.js';
import { createRedisConnection } from '../../src/jobs/redis.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { createIngestProcessor } from '../../src/workers/ingest.js';
import { createTestDatabase, deleteQueuePrefix, type TestDatabase, testConfig } from './test-env.js';

export type TestApi = {
  url: string;
  app: FastifyInstance;
  deps: ApiDeps;
  database: TestDatabase;
  config: Config;
  /** Issues a key for `source` with `scopes`; returns the key. */
  key: (source: string, scopes: ApiScope[]) => Promise<string>;
  /** Runs the ingest worker in this process (real BullMQ worker on the test queue prefix). */
  startIngestWorker: () => Promise<void>;
  close: () => Promise<void>;
};

/** A real server on an ephemeral port, its own database and queue prefix. */
export async function startTestApi(
  env: Record<string, string> = {},
  options: { logger?: Logger } = {},
): Promise<TestApi> {
  const database = await createTestDatabase();
  const config = testConfig({ databaseUrl: database.url, env });
  const redis = createRedisConnection(inject('redisUrl'), 'producer', 'survflow-test-api');
  const logger = options.logger ?? createLogger('silent');
  const deps: ApiDeps = {
    config,
    db: database.db,
    redis,
    ingestQueue: createIngestQueue(config, redis),
    recomputeQueue: createRecomputeQueue(config, redis),
    logger,
  };
  const app = await buildServer(deps);
  await app.listen({ port: 0, host: '127.0.0.1' });
  // Tests expect a publication to be served once notified: start once the API listens for them.
  if (!app.latestRun.state.listening) await once(app.latestRun, 'listening');
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  let worker: Worker | undefined;
  let workerConnection: ReturnType<typeof createRedisConnection> | undefined;
  return {
    url: `http://127.0.0.1:${address.port}`,
    app,
    deps,
    database,
    config,
    key: async (source, scopes) => (await createSourceKey(database.db, source, scopes)).key,
    startIngestWorker: async () => {
      workerConnection = createRedisConnection(inject('redisUrl'), 'worker', 'survflow-test-worker');
      worker = new Worker(QUEUE_NAMES.ingest, createIngestProcessor({ config, db: database.db, logger }), {
        connection: workerConnection,
        prefix: config.queuePrefix,
        concurrency: 2,
      });
      await worker.waitUntilReady();
    },
    close: async () => {
      await app.close();
      await worker?.close();
      workerConnection?.disconnect();
      await deps.ingestQueue.close();
      await deps.recomputeQueue.close();
      redis.disconnect();
      await deleteQueuePrefix(config.queuePrefix);
      await database.close();
    },
  };
}

/** Polls GET /v1/batches/:id until the account is complete. */
export async function waitForBatch(
  api: TestApi,
  key: string,
  batchId: string,
  timeoutMs = 15_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${api.url}/v1/batches/${batchId}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const body = (await response.json()) as Record<string, unknown>;
    if (body.status === 'complete') return body;
    if (Date.now() > deadline) throw new Error(`batch ${batchId} not complete: ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
