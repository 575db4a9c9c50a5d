import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportRoutes } from '../../src/api/report-routes.js';
import { loadRunReport } from '../../src/report/load-run-report.js';
import { renderRunReportHtml } from '../../src/report/report-html.js';
import { renderRunPlot } from '../../src/report/run-plot.js';
import { publishExampleRun } from '../support/example-run.js';
import { byClass, parseSvg } from '../support/parse-markup.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

let testDb: TestDatabase;
let app: FastifyInstance;

beforeAll(async () => {
  testDb = await createTestDatabase();
  app = Fastify();
  await app.register(reportRoutes, { db: testDb.db });
  await app.ready();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await testDb?.close();
});

describe('plot and report routes', () => {
  it('answer 404 while no run is published', async () => {
    const report = await app.inject({ method: 'GET', url: '/report' });
    expect(report.statusCode).toBe(404);
    expect(report.json()).toEqual({ error: expect.stringContaining('no published run yet') });
    const plot = await app.inject({ method: 'GET', url: '/v1/runs/latest/plots/cycles.svg' });
    expect(plot.statusCode).toBe(404);
  });

  describe('with the 73-patient example published', () => {
    let runId: string;
    beforeAll(async () => {
      runId = await publishExampleRun(testDb.db, testConfig({ databaseUrl: testDb.url }));
    }, 120_000);

    it('serve the SVG of a grouping of a run, by id or as latest, with CI bands on request', async () => {
      const document = await loadRunReport(testDb.db, runId);
      const byId = await app.inject({ method: 'GET', url: `/v1/runs/${runId}/plots/radiotherapy.svg` });
      expect(byId.statusCode).toBe(200);
      expect(byId.headers['content-type']).toBe('image/svg+xml; charset=utf-8');
      expect(byId.body).toBe(renderRunPlot(document, 'radiotherapy'));
      const latest = await app.inject({
        method: 'GET',
        url: '/v1/runs/latest/plots/radiotherapy.svg?ci=true',
      });
      expect(byClass(parseSvg(latest.body), 'path', 'km-ci')).toHaveLength(2);
    });

    it('answer 404 for an unknown grouping or run, and for another extension', async () => {
      for (const url of [
        `/v1/runs/${runId}/plots/nope.svg`,
        '/v1/runs/no-such-run/plots/cycles.svg',
        `/v1/runs/${runId}/plots/cycles.png`,
      ]) {
        const response = await app.inject({ method: 'GET', url });
        expect(response.statusCode, url).toBe(404);
      }
    });

    it('serve the HTML report of the latest run with a restrictive CSP', async () => {
      const response = await app.inject({ method: 'GET', url: '/report' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(response.headers['content-security-policy']).toContain("default-src 'none'");
      expect(response.body).toBe(renderRunReportHtml(await loadRunReport(testDb.db, runId)));
    });
  });
});
