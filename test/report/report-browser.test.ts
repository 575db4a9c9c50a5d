import { mkdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRunReport } from '../../src/report/load-run-report.js';
import { type RunReportInput, renderRunReportHtml } from '../../src/report/report-html.js';
import { renderRunPlot } from '../../src/report/run-plot.js';
import { browserSkipReason, CHROMIUM_ARGS, CHROMIUM_PATH } from '../support/browser.js';
import { publishExampleRun } from '../support/example-run.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

const skipReason = browserSkipReason();
if (skipReason) console.warn(`skipping the report browser test: ${skipReason}`);

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

type Box = { left: number; right: number; top: number; bottom: number; text: string };

// The DOM as far as these tests touch it (tsconfig has no DOM lib: the code runs in Node).
type Rect = { left: number; right: number; top: number; bottom: number; width: number; height: number };
type DomElement = {
  textContent: string | null;
  getBoundingClientRect(): Rect;
  getBBox(): Rect;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
};

describe.skipIf(skipReason !== null)('the HTML report of the 73-patient example in headless Chromium', () => {
  let testDb: TestDatabase;
  let document: RunReportInput;
  let groupings: string[];
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase();
    const runId = await publishExampleRun(testDb.db, testConfig({ databaseUrl: testDb.url }));
    document = await loadRunReport(testDb.db, runId);
    groupings = [...new Set(document.summaries.map((s) => s.grouping))];
    mkdirSync(ARTIFACTS, { recursive: true });
    const reportUrl = new URL('report.html', ARTIFACTS);
    writeFileSync(reportUrl, renderRunReportHtml(document));
    for (const grouping of ['radiotherapy', 'cycles']) {
      writeFileSync(
        new URL(`km-${grouping}.svg`, ARTIFACTS),
        renderRunPlot(document, grouping, { ci: true }),
      );
    }

    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1 });
    page.on('request', (request) => {
      requests.push(request.url());
    });
    await page.goto(pathToFileURL(reportUrl.pathname).href, { waitUntil: 'load' });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await testDb?.close();
  });

  it('loads without any request beyond the file itself', () => {
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatch(/^file:\/\/.*report\.html$/);
  });

  it('renders the run header, the attrition table and one summary table per grouping', async () => {
    await expect(page.locator('h1').textContent()).resolves.toContain('Overall survival');
    const attritionRows = page.locator('table.attrition-table tbody tr');
    expect(await attritionRows.count()).toBe(document.attrition.length);
    expect(await page.locator('table.summary-table').count()).toBe(groupings.length);
    for (const table of await page.locator('table.summary-table').all()) {
      const box = await table.boundingBox();
      expect(box?.width).toBeGreaterThan(400);
      expect(box?.height).toBeGreaterThan(40);
    }
    const suppressed = document.summaries.filter((s) => s.suppressed);
    expect(await page.locator('tr.suppressed').count()).toBe(suppressed.length);
  });

  it('draws every figure at a readable size, with one visible curve per drawn group', async () => {
    const figures = await page.locator('figure svg.km-plot').all();
    expect(figures).toHaveLength(groupings.length);
    for (const figure of figures) {
      const grouping = (await figure.getAttribute('data-grouping')) ?? '';
      const box = await figure.boundingBox();
      expect(box?.width).toBeGreaterThan(600);
      expect(box?.height).toBeGreaterThan(450);
      const drawn = document.summaries.filter((s) => s.grouping === grouping && !s.suppressed).length;
      const curves = await figure.evaluate((svg: DomElement) =>
        Array.from(svg.querySelectorAll('path.km-curve')).map((p) => {
          const b = p.getBBox();
          return { width: b.width, height: b.height };
        }),
      );
      expect(curves).toHaveLength(drawn);
      for (const c of curves) {
        expect(c.width).toBeGreaterThan(50);
        expect(c.height).toBeGreaterThan(20);
      }
    }
  });

  it('lays out text without overlaps (legend, axes, numbers at risk, notes)', async () => {
    for (const figure of await page.locator('figure svg.km-plot').all()) {
      const boxes: Box[] = await figure.evaluate((svg: DomElement) =>
        Array.from(svg.querySelectorAll('text')).map((t) => {
          const r = t.getBoundingClientRect();
          return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, text: t.textContent ?? '' };
        }),
      );
      expect(boxes.every((b) => b.right - b.left > 0)).toBe(true); // fonts exist, text has width
      const svgBox = await figure.boundingBox();
      const overlaps: string[] = [];
      boxes.forEach((a, i) => {
        if (svgBox && (a.left < svgBox.x - 0.5 || a.right > svgBox.x + svgBox.width + 0.5)) {
          overlaps.push(`"${a.text}" leaves the figure`);
        }
        for (const b of boxes.slice(i + 1)) {
          const intersect =
            Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 &&
            Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
          if (intersect) overlaps.push(`"${a.text}" overlaps "${b.text}"`);
        }
      });
      expect(overlaps, `in ${await figure.getAttribute('data-grouping')}`).toEqual([]);
    }
  });

  it('saves screenshots of the report and of every figure under test-artifacts/', async () => {
    const full = await page.screenshot({ path: new URL('report.png', ARTIFACTS).pathname, fullPage: true });
    expect(full.length).toBeGreaterThan(50_000);
    for (const grouping of groupings) {
      const figure = await page
        .locator(`section[data-grouping="${grouping}"] figure svg`)
        .screenshot({ path: new URL(`km-${grouping}.png`, ARTIFACTS).pathname });
      expect(figure.length).toBeGreaterThan(10_000);
    }
  });
});
