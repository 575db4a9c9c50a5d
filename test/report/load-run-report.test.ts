import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { loadRunReport } from '../../src/report/load-run-report.js';
import { renderRunReportHtml } from '../../src/report/report-html.js';
import { renderRunPlot } from '../../src/report/run-plot.js';
import { CLI_MAIN } from '../support/cli.js';
import { EXAMPLE_CUTOFF, publishExampleRun } from '../support/example-run.js';
import { byClass, parseSvg, textOf } from '../support/parse-markup.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

const run = promisify(execFile);

let testDb: TestDatabase;
let config: Config;
let runId: string;

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url });
  runId = await publishExampleRun(testDb.db, config);
}, 120_000);

afterAll(async () => {
  await testDb?.close();
});

describe('plots and report of a published run (the 73-patient example)', () => {
  it('loads every unsuppressed summary with its step curve, suppressed ones without', async () => {
    const document = await loadRunReport(testDb.db);
    expect(document.run.id).toBe(runId);
    expect(document.run.cutoff).toBe(EXAMPLE_CUTOFF);
    expect(document.summaries.length).toBeGreaterThan(5);
    for (const s of document.summaries) {
      if (s.suppressed) expect(s.curve).toBeNull();
      else {
        expect(s.curve?.length, `${s.grouping}/${s.group}`).toBeGreaterThan(0);
        // The curve is the one the summary was computed from: its size is n.
        expect(s.curve?.[0]?.nRisk).toBe(s.n);
      }
    }
    expect(document.dataQuality).toEqual([]); // the example has no flagged patient
  });

  it('draws the radiotherapy figure with the published medians, at-risk numbers and tests', async () => {
    const document = await loadRunReport(testDb.db, runId);
    const root = parseSvg(renderRunPlot(document, 'radiotherapy'));
    const summaries = document.summaries.filter((s) => s.grouping === 'radiotherapy');
    expect(byClass(root, 'path', 'km-curve').map((p) => p.getAttribute('data-group'))).toEqual(['yes', 'no']);
    const legend = byClass(root, 'g', 'km-legend-entry').map(textOf).join(' | ');
    // examples/README.md: median OS 959 and 326 days with and without local radiotherapy.
    expect(legend).toContain(`${(959 / 30.4375).toFixed(1)} (`);
    expect(legend).toContain(`${(326 / 30.4375).toFixed(1)} (`);
    for (const s of summaries) {
      const counts = byClass(root, 'text', 'km-at-risk-count').filter(
        (c) => c.getAttribute('data-group') === s.group && c.getAttribute('data-source') === null,
      );
      expect(counts.length).toBeGreaterThan(3);
      for (const c of counts) {
        const entry = s.atRisk?.find((a) => a.time === Number(c.getAttribute('data-time')));
        expect(textOf(c)).toBe(String(entry?.nRisk));
      }
    }
    expect(byClass(root, 'tspan', 'km-logrank').map(textOf)[0]).toMatch(/^log-rank p (=|<) 0\.\d{3}$/);
    expect(byClass(root, 'tspan', 'km-hr').map(textOf)[0]).toMatch(/^HR yes vs no \d\.\d\d \(95% CI/);
  });

  it('refuses a grouping the run does not have, naming the ones it has', async () => {
    const document = await loadRunReport(testDb.db, runId);
    expect(() => renderRunPlot(document, 'nope')).toThrow(
      /has no grouping "nope"; it has: overall, radiotherapy/,
    );
  });

  it('writes the SVG and the HTML report from the command line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'survflow-plot-'));
    const env = { ...process.env, DATABASE_URL: testDb.url, LOG_LEVEL: 'silent', NODE_ENV: 'test' };
    const cli = [CLI_MAIN];
    const svgFile = join(dir, 'cycles.svg');
    const plot = await run(
      process.execPath,
      [...cli, 'plot', '--grouping', 'cycles', '--out', svgFile, '--ci'],
      {
        env,
      },
    );
    expect(plot.stdout).toContain(`wrote ${svgFile} (cycles, run ${runId})`);
    const svg = parseSvg(readFileSync(svgFile, 'utf8'));
    expect(byClass(svg, 'path', 'km-curve')).toHaveLength(3);
    expect(byClass(svg, 'path', 'km-ci')).toHaveLength(3);

    const htmlFile = join(dir, 'report.html');
    await run(process.execPath, [...cli, 'report', '--out', htmlFile, '--run', runId], { env });
    expect(readFileSync(htmlFile, 'utf8')).toBe(renderRunReportHtml(await loadRunReport(testDb.db, runId)));

    const missing = await run(
      process.execPath,
      [...cli, 'plot', '--grouping', 'cycles', '--out', svgFile, '--run', 'no-such'],
      {
        env,
      },
    ).catch((error: { code: number; stderr: string }) => error);
    expect(missing).toMatchObject({ code: 2 });
    expect((missing as { stderr: string }).stderr).toContain('no published run with id no-such');
  }, 300_000);
});
