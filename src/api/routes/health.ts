import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { sql } from 'kysely';
import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import type { ApiMetrics } from '../metrics.js';

const CHECK_TIMEOUT_MS = 2_000;

async function check(probe: () => Promise<unknown>): Promise<'ok' | string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(app: FastifyInstance, deps: ApiDeps, metrics: ApiMetrics): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const open = { rateLimit: false };

  typed.get(
    '/healthz',
    {
      config: open,
      schema: {
        tags: ['operations'],
        summary: 'The process is up',
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  const readiness = z.object({
    status: z.enum(['ready', 'not ready']),
    postgres: z.string(),
    redis: z.string(),
  });
  typed.get(
    '/readyz',
    {
      config: open,
      schema: {
        tags: ['operations'],
        summary: 'PostgreSQL and Redis are reachable (503 otherwise)',
        response: { 200: readiness, 503: readiness },
      },
    },
    async (_request, reply) => {
      const [postgres, redis] = await Promise.all([
        check(() => sql`select 1`.execute(deps.db)),
        check(async () => {
          if ((await deps.redis.ping()) !== 'PONG') throw new Error('unexpected PING answer');
        }),
      ]);
      const ready = postgres === 'ok' && redis === 'ok';
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', postgres, redis });
    },
  );

  app.get(
    '/metrics',
    { config: open, schema: { tags: ['operations'], summary: 'Prometheus metrics' } },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.header('content-type', metrics.registry.contentType).send(text);
    },
  );
}
