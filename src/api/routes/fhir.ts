import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { mapBundle } from '../../fhir/map-bundle.js';
import type { ApiDeps } from '../deps.js';
import { rejectForeignRetractions, validateCandidates, valueCandidate } from '../edge-items.js';
import { idempotencyKeyOf } from '../idempotency-key.js';
import { type IntakeAnswer, type IntakeItem, sha256Hex, submitItems } from '../intake.js';
import type { ApiMetrics } from '../metrics.js';
import { principalOf, requireScope } from '../principal.js';
import { idempotencyHeaders, intakeResponses, security } from '../schemas.js';

/**
 * FHIR R4 bundles -> the same intake as POST /v1/events. Each mapped event or unmappable
 * resource is one item of the submission (bundle entry order); supporting resources (a Patient
 * without a death, a Medication) are listed in the answer but are not events.
 */
export function bundleItems(
  bundle: unknown,
  source: string,
  firstIndex = 0,
): { items: IntakeItem[]; supporting: NonNullable<IntakeAnswer['supporting']> } {
  const items: IntakeItem[] = [];
  const supporting: NonNullable<IntakeAnswer['supporting']> = [];
  for (const outcome of mapBundle(bundle, source)) {
    const index = firstIndex + outcome.entryIndex;
    if (outcome.kind === 'supporting') {
      supporting.push({ index, resource: outcome.resource, note: outcome.note });
    } else if (outcome.kind === 'rejected') {
      items.push({
        index,
        line: index + 1,
        raw: outcome.raw,
        resource: outcome.resource,
        rejection: outcome.reasons,
      });
    } else {
      const [item] = validateCandidates([valueCandidate(index, index + 1, outcome.event)], source);
      if (!item) throw new Error('validateCandidates returned nothing for one candidate');
      if (item.rejection) {
        // Name the resource in contract failures too (e.g. "payload.totalDoseGy: ...").
        item.rejection = item.rejection.map((r) => ({ ...r, message: `${outcome.resource}: ${r.message}` }));
      }
      items.push({ ...item, resource: outcome.resource });
    }
  }
  return { items, supporting };
}

export function registerFhirRoutes(app: FastifyInstance, deps: ApiDeps, metrics: ApiMetrics): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/fhir/Bundle',
    {
      onRequest: requireScope(deps, 'ingest'),
      schema: {
        tags: ['intake'],
        summary: 'Submit a FHIR R4 / mCODE Bundle (transaction or collection)',
        description:
          'Content type application/fhir+json or application/json. Resources are mapped to contract events ' +
          '(README "FHIR R4 / mCODE intake"); resource ids become event ids. Unmappable resources are rejected ' +
          'with a reason naming the resource and the missing element, and accounted like any rejected event.',
        security,
        headers: idempotencyHeaders,
        body: z.object({ resourceType: z.literal('Bundle') }).passthrough(),
        response: intakeResponses,
      },
    },
    async (request, reply) => {
      const { source } = principalOf(request);
      const { items, supporting } = bundleItems(request.body, source);
      await rejectForeignRetractions(deps.db, items, source);
      const answer = await submitItems(deps, {
        source,
        channel: 'fhir',
        idempotencyKey: idempotencyKeyOf(request.headers['idempotency-key']),
        bodySha256: sha256Hex(request.rawBody ?? ''),
        items,
        supporting,
      });
      if (!answer.replayed) {
        metrics.intakeItems.inc({ channel: 'fhir', outcome: 'enqueued' }, answer.enqueued);
        metrics.intakeItems.inc({ channel: 'fhir', outcome: 'rejected_at_edge' }, answer.rejectedAtEdge);
      }
      return reply.code(202).send(answer);
    },
  );
}
