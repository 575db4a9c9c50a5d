import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotFoundError } from '../../errors.js';
import { getSubmissionAccount, inspectPendingBatches } from '../../ingest/submission.js';
import type { ApiDeps } from '../deps.js';
import { principalOf, requireScope } from '../principal.js';
import { authErrors, errorSchema, reasonSchema, security } from '../schemas.js';

const accountSchema = z.object({
  batchId: z.string(),
  status: z.enum(['pending', 'complete']).describe('complete once every enqueued item is accounted'),
  channel: z.string(),
  source: z.string().nullable(),
  submitted: z.number().int().nullable(),
  processed: z.number().int(),
  accepted: z.number().int(),
  duplicate: z.number().int(),
  rejected: z.number().int(),
  reasonCounts: z.record(z.string(), z.number().int()),
  rejections: z.array(
    z.object({
      line: z.number().int().nullable(),
      eventId: z.string().nullable(),
      eventType: z.string().nullable(),
      kind: z.enum(['invalid', 'conflict']),
      reasons: z.array(reasonSchema),
    }),
  ),
  pendingJobs: z.number().int(),
  lostJobs: z
    .number()
    .int()
    .describe(
      'pending batches no longer in Redis (Redis restarted without persistence): they will never be processed; re-send the request',
    ),
  failedJobs: z.number().int().describe('pending batches that failed for good'),
});

/** Beyond this many pending batches the queue is not inspected (the counts then say 0). */
const MAX_INSPECTED_BATCHES = 200;

export function registerBatchRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/batches/:id',
    {
      onRequest: requireScope(deps, 'ingest', 'admin'),
      schema: {
        tags: ['intake'],
        summary:
          'The account of a submission: accepted, duplicate, rejected with reasons; pending until processed',
        description: "An ingest key sees its own source's submissions only; an admin key sees all.",
        security,
        params: z.object({ id: z.string().min(1).max(200) }),
        querystring: z.object({ rejections: z.coerce.number().int().min(0).max(10_000).default(100) }),
        response: { 200: accountSchema, 404: errorSchema, ...authErrors },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const account = await getSubmissionAccount(deps.db, request.params.id, {
        firstRejections: request.query.rejections,
      }).catch((error: unknown) => {
        throw error instanceof NotFoundError ? new NotFoundError(`no batch ${request.params.id}`) : error;
      });
      // Another source's submission is answered like a missing one: ids are not secrets, but
      // what another system sent is none of this key's business.
      if (account.source !== principal.source && !principal.scopes.includes('admin')) {
        throw new NotFoundError(`no batch ${request.params.id}`);
      }
      // Only a sealed, incomplete submission can have batches lost from Redis or failed.
      const lostAndFailed = async () => {
        if (!account.sealed || account.complete || account.pendingBatches.length > MAX_INSPECTED_BATCHES) {
          return { lostJobs: 0, failedJobs: 0 };
        }
        const pending = await inspectPendingBatches(
          deps.ingestQueue,
          account.submissionId,
          account.pendingBatches,
        );
        return { lostJobs: pending.missing.length, failedJobs: pending.failed.length };
      };
      return {
        batchId: account.submissionId,
        status: account.complete ? ('complete' as const) : ('pending' as const),
        channel: account.channel,
        source: account.source,
        submitted: account.submitted,
        processed: account.processed,
        accepted: account.accepted,
        duplicate: account.duplicate,
        rejected: account.rejected,
        reasonCounts: account.reasonCounts,
        rejections: account.rejections.map(({ line, eventId, eventType, kind, reasons }) => ({
          line,
          eventId,
          eventType,
          kind,
          reasons,
        })),
        pendingJobs: account.sealed ? account.pendingBatches.length : (account.batchCount ?? 0),
        ...(await lostAndFailed()),
      };
    },
  );
}
