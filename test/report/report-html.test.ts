import { DOMParser, type Element as XmlElement } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { renderRunReportHtml } from '../../src/report/report-html.js';
import { byClass, parseSvg, textOf } from '../support/parse-markup.js';
import { fixtureRunReport } from '../support/r-reference-summaries.js';

function parseHtml(html: string): XmlElement {
  const root = new DOMParser({ onError: () => {} }).parseFromString(html, 'text/html').documentElement;
  if (!root) throw new Error('no document element');
  return root;
}

function elements(root: XmlElement, tag: string): XmlElement[] {
  return Array.from(root.getElementsByTagName(tag));
}

function section(root: XmlElement, grouping: string): XmlElement {
  const found = elements(root, 'section').find((s) => s.getAttribute('data-grouping') === grouping);
  if (!found) throw new Error(`no section for ${grouping}`);
  return found;
}

function rowsOf(table: XmlElement): string[][] {
  const body = elements(table, 'tbody')[0] as XmlElement;
  return elements(body, 'tr').map((tr) =>
    Array.from(tr.childNodes)
      .filter((n): n is XmlElement => n.nodeType === 1)
      .map((cell) => textOf(cell).trim()),
  );
}

describe('renderRunReportHtml', () => {
  const document = fixtureRunReport();
  const html = renderRunReportHtml(document);
  const root = parseHtml(html);

  it('is one self-contained page: no scripts, no external resources, a CSP that forbids both', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(elements(root, 'script')).toHaveLength(0);
    expect(elements(root, 'link')).toHaveLength(0);
    expect(elements(root, 'img')).toHaveLength(0);
    expect(html).not.toMatch(/\s(src|href)=/i);
    expect(html).not.toMatch(/url\(/i);
    // The only URL is the SVG namespace, which is a name, not a request.
    const urls = html.match(/https?:\/\/[^\s"'<>)]+/g) ?? [];
    expect(new Set(urls)).toEqual(new Set(['http://www.w3.org/2000/svg']));
    const csp = elements(root, 'meta').find(
      (m) => m.getAttribute('http-equiv') === 'Content-Security-Policy',
    );
    expect(csp?.getAttribute('content')).toContain("default-src 'none'");
  });

  it('names the run, its cutoff and its parameters', () => {
    expect(textOf(elements(root, 'header')[0] as XmlElement)).toContain('run-2023-06-30-fixture');
    const parameters = rowsOf(byClass(root, 'table', 'parameters')[0] as XmlElement);
    const map = new Map(parameters.map(([k, v]) => [k, v]));
    expect(map.get('run id')).toBe('run-2023-06-30-fixture');
    expect(map.get('data cutoff')).toBe('2023-06-30');
    expect(map.get('landmarkMonths')).toBe('9');
    expect(map.get('suppressionK')).toBe('5');
    expect(map.get('cycleGroupBounds')).toBe('6, 12');
  });

  it('has the attrition table with the excluded counts and reasons', () => {
    const rows = rowsOf(byClass(root, 'table', 'attrition-table')[0] as XmlElement);
    expect(rows.map((r) => r.slice(0, 3))).toEqual(
      document.attrition.map((a) => [
        a.step,
        String(a.patients),
        a.excluded == null ? '' : String(a.excluded),
      ]),
    );
    expect(rows[2]?.[3]).toContain('histology not ESCC: 3');
  });

  it('has the data-quality flag counts', () => {
    const rows = rowsOf(byClass(root, 'table', 'data-quality-table')[0] as XmlElement);
    expect(rows).toEqual([
      ['death before diagnosis', '1'],
      ['cycle after death', '2'],
    ]);
    const without = renderRunReportHtml({ ...document, dataQuality: undefined });
    expect(without).not.toContain('data-quality-table');
  });

  it('has, per grouping, a figure, the summary table and the tests', () => {
    const groupings = [...new Set(document.summaries.map((s) => s.grouping))];
    expect(groupings).toEqual([
      'overall',
      'radiotherapy',
      'cycles',
      'radiotherapy_cycles',
      'cycles_landmark',
    ]);
    for (const grouping of groupings) {
      const s = section(root, grouping);
      const summaries = document.summaries.filter((x) => x.grouping === grouping);
      const svgs = elements(s, 'svg');
      expect(svgs).toHaveLength(1);
      expect(svgs[0]?.getAttribute('data-grouping')).toBe(grouping);
      const rows = rowsOf(byClass(s, 'table', 'summary-table')[0] as XmlElement);
      expect(rows.map((r) => r[0])).toEqual(summaries.map((x) => x.group));
    }
    const radiotherapy = rowsOf(
      byClass(section(root, 'radiotherapy'), 'table', 'summary-table')[0] as XmlElement,
    );
    // group, n, events, censored, median (CI), S(12), S(24), S(36), RMST, follow-up
    expect(radiotherapy[1]?.slice(0, 5)).toEqual(['no', '11', '7', '4', '31.0 (18.0–NR)']);
    expect(radiotherapy[1]?.[5]).toBe('0.91 (0.75–1.00)'); // R: S(12) 0.909 (0.754-1)
    const tests = rowsOf(byClass(section(root, 'radiotherapy'), 'table', 'tests-table')[0] as XmlElement);
    expect(tests[0]?.[1]).toBe('χ² = 3.40, df = 1, p = 0.065');
    expect(tests[1]?.[1]).toBe('HR yes vs no 2.50 (95% CI 0.92–6.81), Wald p = 0.074');
    expect(
      elements(section(root, 'overall'), 'table').filter((t) => t.getAttribute('class') === 'tests-table'),
    ).toHaveLength(0);
  });

  it('marks suppressed rows and leaves them out of the figure', () => {
    const s = section(root, 'radiotherapy_cycles');
    const suppressed = byClass(s, 'tr', 'suppressed');
    expect(suppressed.map((r) => r.getAttribute('data-group'))).toEqual(['yes:>12', 'no:>12']);
    expect(textOf(suppressed[0] as XmlElement)).toContain('suppressed (n < 5)');
    const svg = parseSvg(
      html
        .slice(html.indexOf('<svg', html.indexOf('data-grouping="radiotherapy_cycles"')))
        .replace(/<\/svg>[\s\S]*$/, '</svg>'),
    );
    expect(byClass(svg, 'path', 'km-curve').map((p) => p.getAttribute('data-group'))).toEqual([
      'yes:1-6',
      'no:1-6',
    ]);
    expect(textOf(byClass(svg, 'text', 'km-suppressed-note')[0] as XmlElement)).toBe(
      'Not drawn, suppressed (n < 5): yes:>12, no:>12',
    );
  });

  it('explains the landmark variants and immortal-time bias', () => {
    const notes = textOf(byClass(root, 'section', 'notes')[0] as XmlElement);
    expect(notes).toContain('Immortal-time bias');
    expect(notes).toMatch(/survive long enough/);
    expect(notes).toContain('9-month landmark');
    expect(textOf(section(root, 'cycles_landmark'))).toContain(
      'alive and in follow-up at the 9-month landmark',
    );
  });

  it('shows a figure that cannot be drawn as a message instead of failing the report', () => {
    const noCurves = { ...document, summaries: document.summaries.map((s) => ({ ...s, curve: null })) };
    const page = renderRunReportHtml(noCurves);
    expect(page).not.toContain('<svg');
    expect(page).toContain('Figure not available: summary overall/all has no curve');
  });

  it('escapes every piece of data', () => {
    const evil = '<img src=x onerror=alert(1)>';
    const page = renderRunReportHtml({
      ...document,
      run: { ...document.run, id: evil, parameters: { ...document.run.parameters, [evil]: evil } },
      attrition: [{ step: evil, patients: 1, excluded: 0, reasons: { [evil]: 1 } }],
      summaries: document.summaries.map((s) => (s.group === 'yes' ? { ...s, group: evil } : s)),
      dataQuality: [{ flag: evil, patients: 1 }],
    });
    expect(page).not.toContain('<img');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('is deterministic', () => {
    expect(renderRunReportHtml(fixtureRunReport())).toBe(html);
  });
});
