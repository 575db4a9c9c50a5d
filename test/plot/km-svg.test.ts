import type { Element as XmlElement } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { formatHazardRatio, formatMedianWithCi, formatPValue } from '../../src/plot/format-stats.js';
import { type KaplanMeierInput, renderKaplanMeierSvg } from '../../src/plot/km-svg.js';
import { OKABE_ITO } from '../../src/plot/palette.js';
import type { PublishedGroupSummary } from '../../src/plot/summary-input.js';
import { byClass, parseSvg, pathPoints, textOf } from '../support/parse-markup.js';
import {
  fixtureRunReport,
  groupingFromReference,
  suppressedSummary,
} from '../support/r-reference-summaries.js';

const RUN = { id: 'run-test', cutoff: '2023-06-30' };

function radiotherapyInput(): KaplanMeierInput {
  const { summaries, test } = groupingFromReference('aml_weeks', 'radiotherapy', {
    Nonmaintained: 'yes',
    Maintained: 'no',
  });
  return { grouping: 'radiotherapy', summaries, test, run: RUN };
}

function cyclesInput(): KaplanMeierInput {
  const { summaries, test } = groupingFromReference('three_arms', 'cycles', {
    A: '1-6',
    B: '7-12',
    C: '>12',
  });
  return { grouping: 'cycles', summaries, test, run: RUN };
}

/** The x and y scales of a rendered figure, read back from its tick labels. */
function scales(root: XmlElement) {
  const [xAxis] = byClass(root, 'g', 'km-axis-x');
  const [yAxis] = byClass(root, 'g', 'km-axis-y');
  if (!xAxis || !yAxis) throw new Error('axes missing');
  const xTicks = byClass(xAxis, 'text', 'km-tick-label').map((t) => ({
    value: Number(textOf(t)),
    x: Number(t.getAttribute('x')),
  }));
  const yTicks = byClass(yAxis, 'text', 'km-tick-label').map((t) => ({
    value: Number(textOf(t)),
    y: Number(t.getAttribute('y')) - 4,
  }));
  const x0 = xTicks[0] as { value: number; x: number };
  const x1 = xTicks[xTicks.length - 1] as { value: number; x: number };
  const y0 = yTicks[0] as { value: number; y: number };
  const y1 = yTicks[yTicks.length - 1] as { value: number; y: number };
  return {
    xAxis,
    yAxis,
    xTicks,
    yTicks,
    x: (t: number) => x0.x + ((t - x0.value) / (x1.value - x0.value)) * (x1.x - x0.x),
    y: (s: number) => y0.y + ((s - y0.value) / (y1.value - y0.value)) * (y1.y - y0.y),
  };
}

function drawnSummaries(input: KaplanMeierInput): PublishedGroupSummary[] {
  return input.summaries.filter((s) => !s.suppressed);
}

describe('renderKaplanMeierSvg', () => {
  it('draws one step curve per group, starting at S = 1 at time 0 and ending at the last time and S', () => {
    const input = radiotherapyInput();
    const root = parseSvg(renderKaplanMeierSvg(input));
    expect(root.tagName).toBe('svg');
    expect(root.getAttribute('data-grouping')).toBe('radiotherapy');
    const curves = byClass(root, 'path', 'km-curve');
    expect(curves.map((c) => c.getAttribute('data-group'))).toEqual(['yes', 'no']);
    const { x, y } = scales(root);
    for (const summary of input.summaries) {
      const path = curves.find((c) => c.getAttribute('data-group') === summary.group) as XmlElement;
      const points = pathPoints(path.getAttribute('d') ?? '');
      const curve = summary.curve ?? [];
      const last = curve[curve.length - 1];
      if (!last) throw new Error('fixture without a curve');
      expect(points[0]?.x).toBeCloseTo(x(0), 1);
      expect(points[0]?.y).toBeCloseTo(y(1), 1);
      const end = points[points.length - 1];
      expect(end?.x).toBeCloseTo(x(last.time), 1);
      expect(end?.y).toBeCloseTo(y(last.surv), 1);
      // A step function: each level of the path is a survival value of the curve.
      const levels = [1, ...curve.map((p) => p.surv)].map(y);
      for (const point of points) {
        expect(Math.min(...levels.map((level) => Math.abs(level - point.y)))).toBeLessThan(0.02);
      }
      // One downward step per distinct event time.
      const drops = points.filter((p, i) => i > 0 && p.y !== (points[i - 1] as { y: number }).y).length;
      expect(drops).toBe(curve.filter((p) => p.nEvent > 0).length);
    }
  });

  it('uses the Okabe-Ito palette in group order', () => {
    const root = parseSvg(renderKaplanMeierSvg(cyclesInput()));
    const strokes = byClass(root, 'path', 'km-curve').map((c) => c.getAttribute('stroke'));
    expect(strokes).toEqual(OKABE_ITO.slice(0, 3));
  });

  it('spans the x axis from 0 to the largest time (rounded up to a tick) and the y axis from 0 to 1', () => {
    const input = cyclesInput();
    const root = parseSvg(renderKaplanMeierSvg(input));
    const { xAxis, yAxis, xTicks, yTicks } = scales(root);
    const maxTime = Math.max(...drawnSummaries(input).flatMap((s) => (s.curve ?? []).map((p) => p.time)));
    expect(maxTime).toBe(31); // three_arms
    expect(xAxis.getAttribute('data-min')).toBe('0');
    expect(xAxis.getAttribute('data-max')).toBe('36');
    expect(xTicks.map((t) => t.value)).toEqual([0, 6, 12, 18, 24, 30, 36]);
    expect(yAxis.getAttribute('data-min')).toBe('0');
    expect(yAxis.getAttribute('data-max')).toBe('1');
    expect(yTicks.map((t) => t.value)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    const labels = byClass(root, 'text', 'km-axis-label').map(textOf);
    expect(labels).toEqual(['Months since first-line immunotherapy', 'Overall survival probability']);
  });

  it('widens the tick step for long follow-up, keeping ticks on the at-risk grid', () => {
    const root = parseSvg(renderKaplanMeierSvg(radiotherapyInput())); // aml: up to 161
    const { xAxis, xTicks } = scales(root);
    expect(xAxis.getAttribute('data-max')).toBe('168');
    expect(xTicks.map((t) => t.value)).toEqual(Array.from({ length: 15 }, (_, i) => i * 12));
  });

  it('prints the numbers at risk of the summary under the ticks', () => {
    const input = radiotherapyInput();
    const root = parseSvg(renderKaplanMeierSvg(input));
    const { x, xTicks } = scales(root);
    const counts = byClass(root, 'text', 'km-at-risk-count');
    for (const summary of drawnSummaries(input)) {
      const mine = counts.filter((c) => c.getAttribute('data-group') === summary.group);
      const fromSummary = mine.filter((c) => c.getAttribute('data-source') === null);
      const expected = (summary.atRisk ?? []).filter((a) => xTicks.some((t) => t.value === a.time));
      expect(fromSummary.map((c) => Number(c.getAttribute('data-time')))).toEqual(
        expected.map((a) => a.time),
      );
      expect(fromSummary.map((c) => Number(textOf(c)))).toEqual(expected.map((a) => a.nRisk));
      for (const c of mine)
        expect(Number(c.getAttribute('x'))).toBeCloseTo(x(Number(c.getAttribute('data-time'))), 1);
    }
    // Spot values from R (survival::aml): Maintained (here "no") has 11, 10, 8, 6 at 0, 6, 12, 18 weeks.
    const no = counts.filter((c) => c.getAttribute('data-group') === 'no').map(textOf);
    expect(no.slice(0, 2)).toEqual(['11', '10']);
  });

  it('prints 0 at risk only past a group’s last time, where the run’s grid has stopped', () => {
    const input = cyclesInput();
    const root = parseSvg(renderKaplanMeierSvg(input));
    const derived = byClass(root, 'text', 'km-at-risk-count').filter((c) => c.getAttribute('data-source'));
    expect(derived.map((c) => [c.getAttribute('data-time'), textOf(c)])).toEqual([
      ['36', '0'],
      ['36', '0'],
      ['36', '0'],
    ]);
  });

  it('writes n, events and the median (95% CI) of each group in the legend, NR when not reached', () => {
    const input = radiotherapyInput();
    const root = parseSvg(renderKaplanMeierSvg(input));
    const entries = byClass(root, 'g', 'km-legend-entry');
    expect(entries.map((e) => e.getAttribute('data-group'))).toEqual(['yes', 'no']);
    const texts = entries.map((e) => Array.from(e.getElementsByTagName('text')).map(textOf));
    // R: Nonmaintained 12 patients, 11 deaths, median 23 (8-NA); Maintained 11, 7, 31 (18-NA).
    expect(texts[0]).toEqual(['yes', '12', '11', '23.0 (8.0–NR)']);
    expect(texts[1]).toEqual(['no', '11', '7', '31.0 (18.0–NR)']);
    for (const s of input.summaries) {
      const entry = entries.find((e) => e.getAttribute('data-group') === s.group) as XmlElement;
      expect(textOf(entry)).toContain(formatMedianWithCi(s.median, s.medianLower, s.medianUpper));
    }
  });

  it('shows the log-rank p and, for two groups, the hazard ratio with its CI', () => {
    const root = parseSvg(renderKaplanMeierSvg(radiotherapyInput()));
    expect(byClass(root, 'tspan', 'km-logrank').map(textOf)).toEqual(['log-rank p = 0.065']);
    // R: coxph HR Nonmaintained vs Maintained 2.50 (0.92-6.81).
    expect(byClass(root, 'tspan', 'km-hr').map(textOf)).toEqual(['HR yes vs no 2.50 (95% CI 0.92–6.81)']);

    const three = parseSvg(renderKaplanMeierSvg(cyclesInput()));
    expect(byClass(three, 'tspan', 'km-logrank').map(textOf)).toEqual(['log-rank p = 0.002']);
    expect(byClass(three, 'tspan', 'km-hr')).toHaveLength(0);
  });

  it('marks each reached median with a dashed drop line to the x axis, and none where not reached', () => {
    const { summaries, test } = groupingFromReference('never_median_small', 'cycles_landmark', {
      poor: '1-6',
      good: '>12',
    });
    const root = parseSvg(renderKaplanMeierSvg({ grouping: 'cycles_landmark', summaries, test, run: RUN }));
    const { x, y } = scales(root);
    const medians = byClass(root, 'line', 'km-median');
    expect(medians.map((m) => m.getAttribute('data-group'))).toEqual(['1-6']);
    const line = medians[0] as XmlElement;
    expect(Number(line.getAttribute('x1'))).toBeCloseTo(x(5.2), 1);
    expect(Number(line.getAttribute('y1'))).toBeCloseTo(y(0.5), 1);
    expect(Number(line.getAttribute('y2'))).toBeCloseTo(y(0), 1);
    expect(line.getAttribute('stroke-dasharray')).toBeTruthy();
    const legend = byClass(root, 'g', 'km-legend-entry').map(textOf).join(' | ');
    expect(legend).toContain('NR (7.4–NR)');
    expect(byClass(root, 'text', 'km-axis-label').map(textOf)[0]).toBe('Months since the landmark');
    const withL = parseSvg(
      renderKaplanMeierSvg({ grouping: 'cycles_landmark', summaries, test, run: RUN }, { landmarkMonths: 9 }),
    );
    expect(byClass(withL, 'text', 'km-axis-label').map(textOf)[0]).toBe('Months since the 9-month landmark');
  });

  it('marks every censoring with a tick on the curve', () => {
    const input = cyclesInput();
    const root = parseSvg(renderKaplanMeierSvg(input));
    const { x, y } = scales(root);
    for (const summary of drawnSummaries(input)) {
      const [marks] = byClass(root, 'path', 'km-censor').filter(
        (p) => p.getAttribute('data-group') === summary.group,
      );
      const censored = (summary.curve ?? []).filter((p) => p.nCensor > 0);
      const d = marks?.getAttribute('d') ?? '';
      const starts = [...d.matchAll(/M([\d.]+),([\d.]+)v8/g)].map((m) => ({
        x: Number(m[1]),
        y: Number(m[2]) + 4,
      }));
      expect(starts).toHaveLength(censored.length);
      starts.forEach((s, i) => {
        const point = censored[i] as { time: number; surv: number };
        expect(s.x).toBeCloseTo(x(point.time), 1);
        expect(s.y).toBeCloseTo(y(point.surv), 1);
      });
    }
  });

  it('draws stepped translucent confidence bands only when asked, within [0, 1]', () => {
    const input = radiotherapyInput();
    expect(byClass(parseSvg(renderKaplanMeierSvg(input)), 'path', 'km-ci')).toHaveLength(0);
    const root = parseSvg(renderKaplanMeierSvg(input, { ci: true }));
    const bands = byClass(root, 'path', 'km-ci');
    expect(bands.map((b) => b.getAttribute('data-group'))).toEqual(['yes', 'no']);
    const { y } = scales(root);
    for (const band of bands) {
      expect(Number(band.getAttribute('fill-opacity'))).toBeLessThan(0.5);
      const summary = input.summaries.find((s) => s.group === band.getAttribute('data-group'));
      const limits = [1, ...(summary?.curve ?? []).flatMap((p) => [p.lower, p.upper])]
        .filter((v): v is number => v !== null)
        .map(y);
      for (const p of pathPoints(band.getAttribute('d') ?? '')) {
        expect(p.y).toBeGreaterThanOrEqual(y(1) - 0.01);
        expect(p.y).toBeLessThanOrEqual(y(0) + 0.01);
        // Every corner of the band sits on a confidence limit of the curve.
        expect(Math.min(...limits.map((l) => Math.abs(l - p.y)))).toBeLessThan(0.02);
      }
    }
  });

  it('does not draw suppressed groups and names them in a note', () => {
    const { summaries, test } = groupingFromReference('ties_small', 'radiotherapy_cycles', {
      ctrl: 'yes:1-6',
      exp: 'no:1-6',
    });
    const input: KaplanMeierInput = {
      grouping: 'radiotherapy_cycles',
      summaries: [...summaries, suppressedSummary('radiotherapy_cycles', 'yes:>12')],
      test: { ...test, cox: null },
      run: RUN,
    };
    const root = parseSvg(renderKaplanMeierSvg(input, { suppressionK: 5 }));
    const groupsDrawn = new Set(
      ['km-curve', 'km-censor', 'km-ci', 'km-at-risk-count'].flatMap((cls) =>
        [...byClass(root, 'path', cls), ...byClass(root, 'text', cls)].map((el) =>
          el.getAttribute('data-group'),
        ),
      ),
    );
    expect(groupsDrawn.has('yes:>12')).toBe(false);
    expect(byClass(root, 'path', 'km-curve')).toHaveLength(2);
    expect(byClass(root, 'g', 'km-legend-entry')).toHaveLength(2);
    expect(byClass(root, 'text', 'km-suppressed-note').map(textOf)).toEqual([
      'Not drawn, suppressed (n < 5): yes:>12',
    ]);
  });

  it('renders a grouping whose groups are all suppressed as empty axes with the note', () => {
    const input: KaplanMeierInput = {
      grouping: 'radiotherapy_cycles',
      summaries: [
        suppressedSummary('radiotherapy_cycles', 'yes:>12'),
        suppressedSummary('radiotherapy_cycles', 'no:>12'),
      ],
      test: null,
      run: RUN,
    };
    const root = parseSvg(renderKaplanMeierSvg(input));
    expect(byClass(root, 'path', 'km-curve')).toHaveLength(0);
    expect(textOf(byClass(root, 'text', 'km-suppressed-note')[0] as XmlElement)).toContain('yes:>12, no:>12');
  });

  it('is deterministic: the same input gives the same bytes, with no ids and short coordinates', () => {
    const first = renderKaplanMeierSvg(cyclesInput(), { ci: true, suppressionK: 5 });
    const second = renderKaplanMeierSvg(cyclesInput(), { ci: true, suppressionK: 5 });
    expect(second).toBe(first);
    expect(first).not.toMatch(/\sid="/);
    expect(first).not.toMatch(/="-?\d+\.\d{3,}"/); // attributes: two decimals at most
    expect(first).not.toMatch(/[MHVv]-?\d+\.\d{3,}/); // path data too
    expect(first).toContain('run-test, data cutoff 2023-06-30');
  });

  it('escapes group labels, which are data', () => {
    const input = radiotherapyInput();
    const evil = `<script>alert("x")</script> & 'quotes'`;
    const summaries = input.summaries.map((s, i) => (i === 0 ? { ...s, group: evil } : s));
    const svg = renderKaplanMeierSvg({ ...input, summaries, test: null, title: 'A & B <title>' });
    expect(svg).not.toContain('<script>');
    const root = parseSvg(svg);
    expect(byClass(root, 'path', 'km-curve')[0]?.getAttribute('data-group')).toBe(evil);
    expect(textOf(byClass(root, 'g', 'km-legend-entry')[0] as XmlElement)).toContain(evil);
    expect(textOf(byClass(root, 'text', 'km-title')[0] as XmlElement)).toBe('A & B <title>');
  });

  it('refuses a summary without its curve, and a grouping with no summaries', () => {
    const input = radiotherapyInput();
    const withoutCurve = input.summaries.map((s) => ({ ...s, curve: null }));
    expect(() => renderKaplanMeierSvg({ ...input, summaries: withoutCurve })).toThrow(InputError);
    expect(() => renderKaplanMeierSvg({ ...input, grouping: 'cycles' })).toThrow(/no summaries of grouping/);
  });

  it('plots every grouping of a run document', () => {
    const document = fixtureRunReport();
    for (const grouping of new Set(document.summaries.map((s) => s.grouping))) {
      const summaries = document.summaries.filter((s) => s.grouping === grouping);
      const test = document.tests.find((t) => t.grouping === grouping) ?? null;
      const root = parseSvg(renderKaplanMeierSvg({ grouping, summaries, test, run: document.run }));
      expect(byClass(root, 'path', 'km-curve')).toHaveLength(summaries.filter((s) => !s.suppressed).length);
    }
  });
});

describe('number formats', () => {
  it('formats p values the way journals print them', () => {
    expect(formatPValue(0.0123)).toBe('p = 0.012');
    expect(formatPValue(0.0004)).toBe('p < 0.001');
    expect(formatPValue(0.001)).toBe('p = 0.001');
    expect(formatPValue(0.9996)).toBe('p > 0.999');
    expect(formatPValue(null)).toBe('p not estimable');
  });

  it('formats medians and hazard ratios with NR for what is not reached', () => {
    expect(formatMedianWithCi(31.5, 20.1, null)).toBe('31.5 (20.1–NR)');
    expect(formatMedianWithCi(null, null, null)).toBe('NR (NR–NR)');
    expect(
      formatHazardRatio({ reference: 'no', group: 'yes', hr: 0.449, lower: 0.25, upper: null, p: 0.01 }),
    ).toBe('HR yes vs no 0.45 (95% CI 0.25–NA)');
  });
});
