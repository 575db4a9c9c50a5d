import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { InputError, NotFoundError } from '../errors.js';
import { loadRunReport } from '../report/load-run-report.js';
import { renderRunReportHtml } from '../report/report-html.js';
import { renderRunPlot } from '../report/run-plot.js';

export type ReportRoutesOptions = { db: Kysely<Database> };

/** The same policy the page declares in its <meta>: nothing external, no script. */
const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/**
 * The pictures of published runs over HTTP, as a Fastify plugin the API server registers (inside
 * whatever authentication scope it gives its query routes):
 *
 * - `GET /v1/runs/:id/plots/:grouping.svg[?ci=true]`: the Kaplan-Meier figure of one grouping;
 *   `:id` may be `latest`.
 * - `GET /report[?run=ID]`: the self-contained HTML report of the latest (or given) run.
 *
 * A run that is not published, or a grouping it does not have, is a 404.
 */
export async function reportRoutes(app: FastifyInstance, options: ReportRoutesOptions): Promise<void> {
  const { db } = options;

  app.get<{ Params: { id: string; file: string }; Querystring: { ci?: string } }>(
    '/v1/runs/:id/plots/:file',
    async (request, reply) => {
      const { id, file } = request.params;
      if (!file.endsWith('.svg')) return notFound(reply, 'plots are served as <grouping>.svg');
      try {
        const document = await loadRunReport(db, id === 'latest' ? undefined : id);
        const svg = renderRunPlot(document, file.slice(0, -'.svg'.length), {
          ci: request.query.ci === 'true',
        });
        return reply
          .type('image/svg+xml; charset=utf-8')
          .header('content-security-policy', REPORT_CSP)
          .send(svg);
      } catch (error) {
        if (error instanceof NotFoundError || error instanceof InputError)
          return notFound(reply, error.message);
        throw error;
      }
    },
  );

  app.get<{ Querystring: { run?: string } }>('/report', async (request, reply) => {
    try {
      const document = await loadRunReport(db, request.query.run);
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', REPORT_CSP)
        .send(renderRunReportHtml(document));
    } catch (error) {
      if (error instanceof NotFoundError) return notFound(reply, error.message);
      throw error;
    }
  });
}

function notFound(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(404).send({ error: message });
}
