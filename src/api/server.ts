import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import { InputError, NotFoundError } from '../errors.js';
import type { ApiDeps } from './deps.js';
import { IdempotencyConflictError, QueueBusyError } from './intake.js';
import { LatestRunTracker, readLatestRunId } from './latest-run.js';
import { createApiMetrics } from './metrics.js';
import { requireScope } from './principal.js';
import { mountQueueDashboard } from './queue-dashboard.js';
import { reportRoutes } from './report-routes.js';
import { QuietReadsLogController } from './request-logging.js';
import { registerBatchRoutes } from './routes/batches.js';
import { registerEventRoutes } from './routes/events.js';
import { registerFhirRoutes } from './routes/fhir.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerQueryRoutes } from './routes/query.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Which run is latest, for the summaries routes; tests wait on its events. */
    latestRun: LatestRunTracker;
  }
}

/**
 * Builds the HTTP API (not listening yet): `await app.listen({ port })` starts it and
 * `await app.close()` stops it (in-flight requests finish first). The caller owns `deps`.
 */
export async function buildServer(deps: ApiDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the instance type the default one.
    loggerInstance: deps.logger.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit: config.http.bodyLimitBytes,
    // Request logs carry method, URL and status only: URLs hold batch and run ids, never
    // patient data, and bodies are logged nowhere.
    requestIdHeader: 'x-request-id',
    logController: new QuietReadsLogController(),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  // JSON and FHIR JSON keep their raw text (hashed for idempotency); NDJSON and CSV stay text
  // and are split per item by the route, so one bad line does not fail the request.
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(
    ['application/json', 'application/fhir+json'],
    { parseAs: 'string' },
    (request, body, done) => {
      const text = body as string;
      request.rawBody = text;
      if (text.trim() === '') return done(null, undefined);
      try {
        done(null, JSON.parse(text));
      } catch (error) {
        const failure = new InputError(`request body is not valid JSON: ${(error as Error).message}`);
        done(Object.assign(failure, { statusCode: 400 }), undefined);
      }
    },
  );
  app.addContentTypeParser(
    ['application/x-ndjson', 'text/csv'],
    { parseAs: 'string' },
    (request, body, done) => {
      request.rawBody = body as string;
      done(null, body);
    },
  );

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      return reply.code(400).send({
        error: 'bad request',
        message: error.message,
        issues: error.validation.map((v) => ({ path: v.instancePath, message: v.message ?? 'invalid' })),
      });
    }
    if (error.statusCode === 413) {
      return reply.code(413).send({
        error: 'payload too large',
        message: `the request body exceeds ${config.http.bodyLimitBytes} bytes (API_BODY_LIMIT_BYTES); split it into smaller requests`,
      });
    }
    if (error.statusCode === 429) {
      return reply.code(429).send({ error: 'too many requests', message: error.message });
    }
    if (error instanceof IdempotencyConflictError) {
      return reply.code(422).send({ error: 'idempotency conflict', message: error.message });
    }
    if (error instanceof QueueBusyError) {
      return reply.code(503).header('retry-after', '30').send({ error: 'busy', message: error.message });
    }
    if (error instanceof NotFoundError)
      return reply.code(404).send({ error: 'not found', message: error.message });
    if (error instanceof InputError)
      return reply.code(400).send({ error: 'bad request', message: error.message });
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply
        .code(error.statusCode)
        .send({ error: error.code ?? 'bad request', message: error.message });
    }
    request.log.error({ err: error }, 'request failed');
    return reply
      .code(500)
      .send({ error: 'internal error', message: 'the request failed; see the server log' });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'survflow API',
        version: '1',
        description:
          'Event intake (contract v1, NDJSON / JSON / CSV, FHIR R4 / mCODE bundles), batch accounts, ' +
          'recompute runs and Kaplan-Meier overall-survival summaries.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'API key of a source: Authorization: Bearer <key>',
          },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(rateLimit, {
    global: true,
    // After authentication (an onRequest hook), so the limit is per API key, not per address.
    hook: 'preHandler',
    max: config.http.rateLimitMax,
    timeWindow: config.http.rateLimitWindowMs,
    keyGenerator: (request) => request.principal?.keyId ?? `ip:${request.ip}`,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      error: 'too many requests',
      message: `rate limit of ${context.max} requests per ${context.after} exceeded for this key; retry later`,
    }),
  });

  // Which run is latest, cached until a publication is notified (see latest-run.ts). Its
  // connection opens once the server is built (below) and closes with it.
  const latestRun = new LatestRunTracker({
    databaseUrl: config.databaseUrl,
    readLatestId: () => readLatestRunId(deps.db),
    logger: deps.logger.child({ component: 'api' }),
  });
  app.decorate('latestRun', latestRun);
  app.addHook('onClose', () => latestRun.close());

  const metrics = createApiMetrics(deps, latestRun);
  registerHealthRoutes(app, deps, metrics);
  registerEventRoutes(app, deps, metrics);
  registerFhirRoutes(app, deps, metrics);
  registerBatchRoutes(app, deps);
  registerQueryRoutes(app, deps, latestRun);
  // Pictures of published runs: readable with a query (or admin) key, like the summaries.
  await app.register(async (scope) => {
    scope.addHook('onRequest', requireScope(deps, 'query', 'admin'));
    await scope.register(reportRoutes, { db: deps.db });
  });
  // Operators' queue dashboard: admin keys only (a browser asks for the key as a password).
  await mountQueueDashboard(app, [deps.ingestQueue, deps.recomputeQueue], requireScope(deps, 'admin'));

  app.get('/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, () => app.swagger());
  latestRun.start();
  return app;
}
