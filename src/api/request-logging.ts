import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * A hot read route: its routine answers (200, 304) are not logged one by one. Refusals
     * (401, 403, 429), other failures and errors still are.
     */
    quietWhenServed?: boolean;
  }
}

const ROUTINE_STATUSES = new Set([200, 304]);

function isQuiet(request: FastifyRequest): boolean {
  return request.routeOptions.config.quietWhenServed === true;
}

/**
 * Fastify's request log lines ("incoming request", "request completed"), minus the routine
 * answers of hot read routes. A summaries read served from memory costs ~50 µs of CPU; at the
 * default `info` level, its two log lines (serialized, redacted, written synchronously) cost
 * about as much again, for a line per request that says nothing a metric could not.
 */
export class QuietReadsLogController extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>) {
    // The outcome is not known yet: the completion line below says what mattered.
    if (isQuiet(request)) return;
    super.incomingRequest(request, reply, metadata);
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ) {
    if (!error && isQuiet(request) && ROUTINE_STATUSES.has(reply.statusCode)) return;
    super.requestCompleted(error, request, reply, metadata);
  }
}
