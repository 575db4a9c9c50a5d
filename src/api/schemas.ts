import { z } from 'zod';

/** Response and parameter schemas shared by the routes (and so by the OpenAPI document). */

export const errorSchema = z.object({ error: z.string(), message: z.string() }).passthrough();

export const reasonSchema = z.object({ path: z.string(), message: z.string() });

export const intakeAnswerSchema = z.object({
  batchId: z.string().describe('the submission id; read its account at GET /v1/batches/{id}'),
  status: z.literal('enqueued'),
  replayed: z.boolean().describe('true when this answers a re-send of an earlier request'),
  received: z.number().int(),
  enqueued: z.number().int().describe('items that passed edge validation'),
  rejectedAtEdge: z.number().int().describe('items rejected at the edge (still stored and accounted)'),
  rejections: z.array(
    z.object({
      index: z.number().int(),
      line: z.number().int().nullable(),
      resource: z.string().optional(),
      reasons: z.array(reasonSchema),
    }),
  ),
  rejectionsTruncated: z.boolean(),
  supporting: z
    .array(z.object({ index: z.number().int(), resource: z.string(), note: z.string() }))
    .optional()
    .describe('FHIR resources read by the mapping that are not events themselves'),
  account: z.string(),
});

export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('re-sending a request with the same key returns the first answer and enqueues nothing'),
});

export const security: { [scheme: string]: string[] }[] = [{ bearer: [] }, { apiKey: [] }];

export const authErrors = { 401: errorSchema, 403: errorSchema, 429: errorSchema };

/** The answers of an intake route (POST /v1/events, POST /fhir/Bundle). */
export const intakeResponses = {
  202: intakeAnswerSchema,
  400: errorSchema,
  413: errorSchema,
  422: errorSchema,
  503: errorSchema,
  ...authErrors,
};
