import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { clinicalDate } from '../../contract/events.js';
import type { RunRow } from '../../db/database.js';
import { NotFoundError } from '../../errors.js';
import { enqueueRecompute } from '../../jobs/recompute-queue.js';
import { formatSummaryCsv } from '../../summaries/format-csv.js';
import type { RunSummaryDocument } from '../../summaries/load-run-summary.js';
import { ifNoneMatchHits, runEtag } from '../conditional-get.js';
import type { ApiDeps } from '../deps.js';
import { requireScope, requireScopeForReads } from '../principal.js';
import { authErrors, errorSchema, security } from '../schemas.js';
import { type LatestRunSource, SummaryCache } from '../summary-cache.js';

const runSchema = z.object({
  id: z.string(),
  status: z.string(),
  cutoff: z.string(),
  trigger: z.string(),
  stage: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  publishedAt: z.string().nullable(),
  counts: z.object({
    patientsInLedger: z.number().nullable(),
    patientsRegistered: z.number().nullable(),
    patientsAnalysed: z.number().nullable(),
    patientsLandmark: z.number().nullable(),
    patientsFlagged: z.number().nullable(),
  }),
  parameters: z.record(z.string(), z.unknown()),
  /** The run whose results this run copied because their inputs were identical, else null. */
  resultsReusedFrom: z.string().nullable(),
  error: z.string().nullable(),
});

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function runView(run: RunRow): z.infer<typeof runSchema> {
  return {
    id: run.id,
    status: run.status,
    cutoff: run.cutoff,
    trigger: run.trigger,
    stage: run.stage,
    startedAt: new Date(run.started_at).toISOString(),
    finishedAt: iso(run.finished_at),
    publishedAt: iso(run.published_at),
    counts: {
      patientsInLedger: run.patients_in_ledger,
      patientsRegistered: run.patients_registered,
      patientsAnalysed: run.patients_analysed,
      patientsLandmark: run.patients_landmark,
      patientsFlagged: run.patients_flagged,
    },
    parameters: run.parameters,
    resultsReusedFrom: run.results_reused_from,
    error: run.error,
  };
}

const formatQuery = z.object({
  format: z.enum(['json', 'csv']).optional().describe('overrides the Accept header'),
});

const summaryDocumentSchema = z
  .object({
    run: z.object({
      id: z.string(),
      cutoff: z.string(),
      publishedAt: z.string(),
      parameters: z.record(z.string(), z.unknown()),
    }),
    attrition: z.array(z.record(z.string(), z.unknown())),
    summaries: z.array(
      z.object({ grouping: z.string(), group: z.string(), suppressed: z.boolean() }).catchall(z.unknown()),
    ),
    tests: z.array(z.record(z.string(), z.unknown())),
  })
  .describe('SPEC section 8 summary document; with ?format=csv or Accept: text/csv, one CSV row per group');

const conditionalHeaders = z.object({
  'if-none-match': z.string().optional().describe('an ETag received earlier: 304 while it still matches'),
});
const notModified = z.null().describe('not modified: If-None-Match matches the ETag (run id and format)');

function wantsCsv(request: FastifyRequest, format: 'json' | 'csv' | undefined): boolean {
  if (format) return format === 'csv';
  const accept = request.headers.accept ?? '';
  return /\btext\/csv\b/.test(accept) && !/\bapplication\/json\b/.test(accept);
}

function sendSummary(
  request: FastifyRequest,
  reply: FastifyReply,
  document: RunSummaryDocument,
  format: 'json' | 'csv' | undefined,
  cache: SummaryCache,
) {
  const csv = wantsCsv(request, format);
  const etag = runEtag(document.run.id, csv ? 'csv' : 'json');
  // Authenticated data: browsers may keep it, shared caches may not; always revalidate (the
  // latest run changes), which costs a 304 without a body while it has not.
  reply.header('etag', etag).header('cache-control', 'private, no-cache').header('vary', 'accept');
  if (ifNoneMatchHits(request.headers['if-none-match'], etag)) return reply.code(304).send();
  if (csv) {
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `inline; filename="survflow-run-${document.run.id}.csv"`)
      .send(cache.encodedAs(document, 'csv', formatSummaryCsv));
  }
  // Validated, serialized and encoded once per run (a Buffer is sent as is by Fastify): the
  // same checks as the response schema's serializer, without repeating them on every request.
  return reply
    .header('content-type', 'application/json; charset=utf-8')
    .send(cache.encodedAs(document, 'json', (d) => JSON.stringify(summaryDocumentSchema.parse(d))));
}

export function registerQueryRoutes(app: FastifyInstance, deps: ApiDeps, latestRun: LatestRunSource): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const cache = new SummaryCache(deps.db, latestRun);
  const query = requireScopeForReads(deps, 'query', 'admin');

  typed.post(
    '/v1/recompute',
    {
      onRequest: requireScope(deps, 'admin'),
      schema: {
        tags: ['runs'],
        summary: 'Ask for a recompute now (optionally at a past data cutoff)',
        description:
          'Requests for the same cutoff coalesce with a waiting or running one. Poll GET /v1/runs.',
        security,
        body: z.object({ cutoff: clinicalDate.optional() }).optional(),
        response: {
          202: z.object({
            jobId: z.string().nullable(),
            cutoff: z.string().nullable(),
            requestedAt: z.string(),
            runs: z.string(),
          }),
          400: errorSchema,
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const cutoff = request.body?.cutoff;
      const { jobId, data } = await enqueueRecompute(deps.recomputeQueue, { cutoff, trigger: 'api' });
      return reply.code(202).send({
        jobId: jobId ?? null,
        cutoff: cutoff ?? null,
        requestedAt: data.requestedAt,
        runs: '/v1/runs',
      });
    },
  );

  typed.get(
    '/v1/runs',
    {
      onRequest: query,
      schema: {
        tags: ['runs'],
        summary: 'Recompute runs, newest first (all statuses: running, published, failed, abandoned)',
        security,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(1_000).default(50) }),
        response: { 200: z.object({ runs: z.array(runSchema) }), ...authErrors },
      },
    },
    async (request) => {
      const runs = await deps.db
        .selectFrom('runs')
        .selectAll()
        .orderBy('started_at', 'desc')
        .orderBy('id', 'desc')
        .limit(request.query.limit)
        .execute();
      return { runs: runs.map(runView) };
    },
  );

  typed.get(
    '/v1/runs/:id',
    {
      onRequest: query,
      schema: {
        tags: ['runs'],
        summary: 'One recompute run',
        security,
        params: z.object({ id: z.string().min(1).max(100) }),
        response: { 200: runSchema, 404: errorSchema, ...authErrors },
      },
    },
    async (request) => {
      const run = await deps.db
        .selectFrom('runs')
        .selectAll()
        .where('id', '=', request.params.id)
        .executeTakeFirst();
      if (!run) throw new NotFoundError(`no run ${request.params.id}`);
      return runView(run);
    },
  );

  typed.get(
    '/v1/summaries/latest',
    {
      onRequest: query,
      config: { quietWhenServed: true },
      schema: {
        tags: ['summaries'],
        summary: "The latest published run's summaries (JSON, or CSV via Accept: text/csv or ?format=csv)",
        description:
          'Figures describing fewer than k patients (run parameter suppressionK) are masked: suppressed: true. ' +
          'The ETag names the run and the format: revalidate with If-None-Match to get 304 until another run is ' +
          'published. A publication is served once this process has received its notification (at once, unless ' +
          'its listening connection is down, when every request reads the latest run from the database).',
        security,
        querystring: formatQuery,
        headers: conditionalHeaders,
        response: { 200: summaryDocumentSchema, 304: notModified, 404: errorSchema, ...authErrors },
      },
    },
    async (request, reply) => sendSummary(request, reply, await cache.latest(), request.query.format, cache),
  );

  typed.get(
    '/v1/runs/:id/summaries',
    {
      onRequest: query,
      config: { quietWhenServed: true },
      schema: {
        tags: ['summaries'],
        summary: "A published run's summaries (JSON or CSV)",
        security,
        params: z.object({ id: z.string().min(1).max(100) }),
        querystring: formatQuery,
        headers: conditionalHeaders,
        response: { 200: summaryDocumentSchema, 304: notModified, 404: errorSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      return sendSummary(request, reply, await cache.byId(request.params.id), request.query.format, cache);
    },
  );
}
