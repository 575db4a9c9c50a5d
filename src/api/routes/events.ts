import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { mapCsv } from '../../csv/map-csv.js';
import { InputError } from '../../errors.js';
import type { ApiDeps } from '../deps.js';
import {
  arrayCandidates,
  ndjsonCandidates,
  rejectForeignRetractions,
  validateCandidates,
  valueCandidate,
} from '../edge-items.js';
import { idempotencyKeyOf } from '../idempotency-key.js';
import { type IntakeItem, sha256Hex, submitItems } from '../intake.js';
import type { ApiMetrics } from '../metrics.js';
import { principalOf, requireScope } from '../principal.js';
import { idempotencyHeaders, intakeResponses, security } from '../schemas.js';

/** CSV rows: malformed rows keep their text and reasons; mapped rows are validated as events. */
function csvItems(body: string, source: string): IntakeItem[] {
  return mapCsv(body, source).map((outcome, index): IntakeItem => {
    if (outcome.kind === 'rejected') {
      return { index, line: outcome.line, raw: outcome.raw, rejection: outcome.reasons };
    }
    const [item] = validateCandidates([valueCandidate(index, outcome.line, outcome.event)], source);
    if (!item) throw new Error('validateCandidates returned nothing for one candidate');
    return item;
  });
}

export function registerEventRoutes(app: FastifyInstance, deps: ApiDeps, metrics: ApiMetrics): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/events',
    {
      onRequest: requireScope(deps, 'ingest'),
      schema: {
        tags: ['intake'],
        summary: 'Submit events (contract v1) as a JSON array, NDJSON or CSV',
        description:
          'Content types: application/json (an array of events), application/x-ndjson (one event per line), ' +
          'text/csv (README "CSV intake"). Events are attributed to the key\'s source (a missing `source` is ' +
          'filled in; another source is rejected). Every item is validated here; rejected items are listed ' +
          'with their reasons AND stored as rejected, so the batch account adds up to the items sent.',
        security,
        headers: idempotencyHeaders,
        body: z.union([z.array(z.unknown()), z.string()]),
        response: intakeResponses,
      },
    },
    async (request, reply) => {
      const { source } = principalOf(request);
      const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim();
      let items: IntakeItem[];
      if (Array.isArray(request.body)) {
        items = validateCandidates(arrayCandidates(request.body), source);
      } else if (contentType === 'text/csv') {
        items = csvItems(request.body, source);
      } else if (contentType === 'application/x-ndjson') {
        items = validateCandidates(ndjsonCandidates(request.body), source);
      } else {
        throw new InputError(
          'a JSON body must be an array of events (or send NDJSON as application/x-ndjson)',
        );
      }
      await rejectForeignRetractions(deps.db, items, source);
      const answer = await submitItems(deps, {
        source,
        channel: 'http',
        idempotencyKey: idempotencyKeyOf(request.headers['idempotency-key']),
        bodySha256: sha256Hex(request.rawBody ?? ''),
        items,
      });
      if (!answer.replayed) {
        metrics.intakeItems.inc({ channel: 'http', outcome: 'enqueued' }, answer.enqueued);
        metrics.intakeItems.inc({ channel: 'http', outcome: 'rejected_at_edge' }, answer.rejectedAtEdge);
      }
      return reply.code(202).send(answer);
    },
  );
}
