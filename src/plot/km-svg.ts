import { InputError } from '../errors.js';
import type { CurvePoint } from '../stats/types.js';
import { escapeMarkup } from '../util/escape-markup.js';
import { formatHazardRatio, formatMedianWithCi, formatPValue } from './format-stats.js';
import { groupingTitle, isLandmarkGrouping } from './grouping-labels.js';
import { groupColour } from './palette.js';
import type { GroupingTests, PublishedGroupSummary } from './summary-input.js';
import { coordinate, element, estimatedTextWidth, textElement } from './svg-markup.js';

/**
 * A publication-style Kaplan-Meier figure of one grouping of a published run, as an SVG string.
 * Pure: no I/O, no clock, no randomness; the same input gives the same bytes. Layout follows
 * what oncology journals print: legend with n, events and median (95% CI) above the plot,
 * log-rank p and the hazard ratio, step curves with censoring ticks, dashed median drop lines,
 * and the numbers at risk under the x axis, aligned with its ticks.
 *
 * Elements carry stable classes and `data-group` attributes (never ids, so several figures can
 * be inlined in one HTML page): `path.km-curve`, `path.km-ci`, `path.km-censor`,
 * `line.km-median`, `g.km-legend-entry`, `text.km-at-risk-count` (with `data-time`),
 * `g.km-axis-x` / `g.km-axis-y` (with `data-min` / `data-max`).
 */

export type KaplanMeierInput = {
  grouping: string;
  /** A title printed above the figure; none by default (journals put it in the caption). */
  title?: string;
  /** The summaries of this grouping, in display order; other groupings' summaries are ignored. */
  summaries: readonly PublishedGroupSummary[];
  test: GroupingTests | null;
  run: { id: string; cutoff: string };
};

export type KaplanMeierOptions = {
  /** Draw the pointwise 95% confidence bands (stepped, translucent). Default false. */
  ci?: boolean;
  /** The run's small-cell threshold k, named in the note on suppressed groups. */
  suppressionK?: number;
  /** The landmark L in months, named in the x-axis label of the landmark groupings. */
  landmarkMonths?: number;
  /** 'probability' (0-1, default) or 'percent' (0-100%). */
  yScale?: 'probability' | 'percent';
  /** Months between x-axis ticks and at-risk columns. Default: the at-risk grid step, doubled
   * until there are at most 20 ticks. */
  tickStepMonths?: number;
  /** Step of the run's numbers-at-risk grid (SPEC: 6 months). Default 6. */
  atRiskStepMonths?: number;
  /** Width in px (the SVG scales; this sets proportions and font sizes). Default 760. */
  width?: number;
  /** Height of the plotting area in px. Default 330. */
  plotHeight?: number;
  /** Print the key to the marks and the run's id and cutoff under the figure. Default true. */
  caption?: boolean;
};

const FONT_FAMILY = "Helvetica, Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif";
const INK = '#222222';
const MUTED = '#555555';
const FONT = 12;
const SMALL = 11;
const ROW = 18;

type DrawnGroup = {
  summary: PublishedGroupSummary;
  colour: string;
  curve: CurvePoint[];
};

export function renderKaplanMeierSvg(input: KaplanMeierInput, options: KaplanMeierOptions = {}): string {
  const summaries = input.summaries.filter((s) => s.grouping === input.grouping);
  if (summaries.length === 0) {
    throw new InputError(`no summaries of grouping "${input.grouping}" to plot`);
  }
  const drawn: DrawnGroup[] = [];
  const suppressed: string[] = [];
  summaries.forEach((summary, index) => {
    if (summary.suppressed) {
      suppressed.push(summary.group);
      return;
    }
    if (!summary.curve || summary.curve.length === 0) {
      throw new InputError(
        `summary ${input.grouping}/${summary.group} has no curve: the run did not store its step curve`,
      );
    }
    const curve = [...summary.curve].sort((a, b) => a.time - b.time);
    drawn.push({ summary, colour: groupColour(index), curve });
  });

  const width = options.width ?? 760;
  const plotHeight = options.plotHeight ?? 330;
  const percent = options.yScale === 'percent';

  // ---- horizontal layout -------------------------------------------------------------------
  const atRiskLabelWidth = Math.max(0, ...drawn.map((g) => estimatedTextWidth(g.summary.group, FONT)));
  const plotLeft = Math.max(76, Math.ceil(atRiskLabelWidth) + 28);
  const plotRight = width - 28;

  // ---- x scale -----------------------------------------------------------------------------
  const dataMaxTime = Math.max(
    0,
    ...drawn.map((g) => g.curve[g.curve.length - 1]?.time ?? 0),
    ...drawn.flatMap((g) => (g.summary.atRisk ?? []).map((a) => a.time)),
  );
  const tickStep = options.tickStepMonths ?? autoTickStep(dataMaxTime, options.atRiskStepMonths ?? 6);
  const xMax = Math.max(tickStep, Math.ceil(dataMaxTime / tickStep - 1e-9) * tickStep);
  const xTicks: number[] = [];
  for (let t = 0; t <= xMax + 1e-9; t += tickStep) xTicks.push(Math.round(t * 1e6) / 1e6);
  const x = (t: number) => plotLeft + (t / xMax) * (plotRight - plotLeft);

  // ---- vertical layout ---------------------------------------------------------------------
  const parts: string[] = [];
  let y = 14;
  if (input.title) {
    y += 18;
    parts.push(
      textElement(
        { class: 'km-title', x: 16, y, 'font-size': 15, 'font-weight': 'bold', fill: INK },
        input.title,
      ),
    );
    y += 12;
  }

  // Legend: a small table above the plot, so it can never cover a curve.
  const legendX = plotLeft;
  const swatchWidth = 24;
  const labelX = legendX + swatchWidth + 8;
  const legendTitle = groupingTitle(input.grouping);
  const labelColumn = Math.max(
    estimatedTextWidth(legendTitle, SMALL),
    ...drawn.map((g) => estimatedTextWidth(g.summary.group, FONT)),
  );
  const nX = labelX + labelColumn + 36;
  const eventsX = nX + 54;
  const medianX = eventsX + 22;
  const legendTop = y + 8;
  const headerY = legendTop + SMALL;
  const legend: string[] = [];
  const headerStyle = { 'font-size': SMALL, fill: MUTED };
  legend.push(textElement({ x: labelX, y: headerY, ...headerStyle, 'font-weight': 'bold' }, legendTitle));
  legend.push(textElement({ x: nX, y: headerY, 'text-anchor': 'end', ...headerStyle }, 'n'));
  legend.push(textElement({ x: eventsX, y: headerY, 'text-anchor': 'end', ...headerStyle }, 'Events'));
  legend.push(textElement({ x: medianX, y: headerY, ...headerStyle }, 'Median OS, months (95% CI)'));
  drawn.forEach((g, i) => {
    const rowY = headerY + ROW * (i + 1);
    const s = g.summary;
    const median = formatMedianWithCi(s.median, s.medianLower, s.medianUpper);
    legend.push(
      element(
        'g',
        { class: 'km-legend-entry', 'data-group': s.group, 'font-size': FONT, fill: INK },
        [
          element('line', {
            x1: legendX,
            y1: rowY - 4,
            x2: legendX + swatchWidth,
            y2: rowY - 4,
            stroke: g.colour,
            'stroke-width': 2.5,
          }),
          textElement({ x: labelX, y: rowY, fill: g.colour, 'font-weight': 'bold' }, s.group),
          textElement({ x: nX, y: rowY, 'text-anchor': 'end' }, String(s.n ?? '')),
          textElement({ x: eventsX, y: rowY, 'text-anchor': 'end' }, String(s.events ?? '')),
          textElement({ x: medianX, y: rowY }, median),
        ].join(''),
      ),
    );
  });
  y = headerY + ROW * drawn.length;

  const tests = input.test;
  if (tests && (tests.logRank || tests.cox)) {
    y += ROW + 4;
    const spans: string[] = [];
    if (tests.logRank) {
      spans.push(
        element('tspan', { class: 'km-logrank' }, `log-rank ${escapeMarkup(formatPValue(tests.logRank.p))}`),
      );
    }
    if (tests.cox) {
      spans.push(
        element(
          'tspan',
          { class: 'km-hr', dx: spans.length ? 20 : undefined },
          escapeMarkup(formatHazardRatio(tests.cox)),
        ),
      );
    }
    legend.push(
      element('text', { class: 'km-tests', x: legendX, y, 'font-size': FONT, fill: INK }, spans.join('')),
    );
  }
  if (suppressed.length > 0) {
    y += ROW;
    const threshold = options.suppressionK === undefined ? 'small cells' : `n < ${options.suppressionK}`;
    legend.push(
      textElement(
        {
          class: 'km-suppressed-note',
          x: legendX,
          y,
          'font-size': SMALL,
          fill: MUTED,
          'font-style': 'italic',
        },
        `Not drawn, suppressed (${threshold}): ${suppressed.join(', ')}`,
      ),
    );
  }
  parts.push(element('g', { class: 'km-legend' }, legend.join('')));

  const plotTop = y + 26;
  const plotBottom = plotTop + plotHeight;
  const yOf = (s: number) => plotBottom - s * plotHeight;

  // ---- axes --------------------------------------------------------------------------------
  const xAxis: string[] = [
    element('line', { x1: plotLeft, y1: plotBottom, x2: plotRight, y2: plotBottom, stroke: INK }),
  ];
  for (const t of xTicks) {
    xAxis.push(element('line', { x1: x(t), y1: plotBottom, x2: x(t), y2: plotBottom + 5, stroke: INK }));
    xAxis.push(
      textElement(
        { class: 'km-tick-label', x: x(t), y: plotBottom + 19, 'text-anchor': 'middle', 'font-size': FONT },
        String(t),
      ),
    );
  }
  xAxis.push(
    textElement(
      {
        class: 'km-axis-label',
        x: (plotLeft + plotRight) / 2,
        y: plotBottom + 42,
        'text-anchor': 'middle',
        'font-size': 13,
      },
      xAxisLabel(input.grouping, options.landmarkMonths),
    ),
  );
  parts.push(
    element('g', { class: 'km-axis-x', 'data-min': 0, 'data-max': xMax, fill: INK }, xAxis.join('')),
  );

  const yAxis: string[] = [
    element('line', { x1: plotLeft, y1: plotTop, x2: plotLeft, y2: plotBottom, stroke: INK }),
  ];
  for (const s of [0, 0.25, 0.5, 0.75, 1]) {
    yAxis.push(element('line', { x1: plotLeft - 5, y1: yOf(s), x2: plotLeft, y2: yOf(s), stroke: INK }));
    yAxis.push(
      textElement(
        { class: 'km-tick-label', x: plotLeft - 8, y: yOf(s) + 4, 'text-anchor': 'end', 'font-size': FONT },
        percent ? `${Math.round(s * 100)}%` : s.toFixed(2),
      ),
    );
  }
  const yLabelX = plotLeft - 52;
  const yLabelY = (plotTop + plotBottom) / 2;
  yAxis.push(
    textElement(
      {
        class: 'km-axis-label',
        x: yLabelX,
        y: yLabelY,
        transform: `rotate(-90 ${coordinate(yLabelX)} ${coordinate(yLabelY)})`,
        'text-anchor': 'middle',
        'font-size': 13,
      },
      percent ? 'Overall survival (%)' : 'Overall survival probability',
    ),
  );
  parts.push(element('g', { class: 'km-axis-y', 'data-min': 0, 'data-max': 1, fill: INK }, yAxis.join('')));

  // ---- data --------------------------------------------------------------------------------
  if (options.ci) {
    const bands = drawn
      .map((g) => {
        const d = confidenceBandPath(g.curve, x, yOf);
        return d
          ? element('path', {
              class: 'km-ci',
              'data-group': g.summary.group,
              d,
              fill: g.colour,
              'fill-opacity': 0.14,
              stroke: 'none',
            })
          : '';
      })
      .join('');
    parts.push(element('g', { class: 'km-ci-bands' }, bands));
  }

  const medians = drawn.filter((g) => g.summary.median !== null && g.summary.median <= xMax);
  if (medians.length > 0) {
    const furthest = Math.max(...medians.map((g) => g.summary.median as number));
    const lines = [
      element('line', {
        class: 'km-median-reference',
        x1: plotLeft,
        y1: yOf(0.5),
        x2: x(furthest),
        y2: yOf(0.5),
        stroke: '#888888',
        'stroke-width': 1,
        'stroke-dasharray': '4 3',
      }),
      ...medians.map((g) =>
        element('line', {
          class: 'km-median',
          'data-group': g.summary.group,
          'data-median': g.summary.median as number,
          x1: x(g.summary.median as number),
          y1: yOf(0.5),
          x2: x(g.summary.median as number),
          y2: plotBottom,
          stroke: g.colour,
          'stroke-width': 1,
          'stroke-dasharray': '4 3',
        }),
      ),
    ];
    parts.push(element('g', { class: 'km-medians' }, lines.join('')));
  }

  parts.push(
    element(
      'g',
      { class: 'km-curves', fill: 'none' },
      drawn
        .map((g) =>
          element('path', {
            class: 'km-curve',
            'data-group': g.summary.group,
            d: stepCurvePath(g.curve, x, yOf),
            stroke: g.colour,
            'stroke-width': 2,
            'stroke-linejoin': 'miter',
          }),
        )
        .join(''),
    ),
  );

  parts.push(
    element(
      'g',
      { class: 'km-censoring', fill: 'none' },
      drawn
        .map((g) => {
          const censored = g.curve.filter((p) => p.nCensor > 0);
          if (censored.length === 0) return '';
          const d = censored
            .map((p) => `M${coordinate(x(p.time))},${coordinate(yOf(p.surv) - 4)}v8`)
            .join('');
          return element('path', {
            class: 'km-censor',
            'data-group': g.summary.group,
            'data-count': censored.length,
            d,
            stroke: g.colour,
            'stroke-width': 1.3,
          });
        })
        .join(''),
    ),
  );

  // ---- numbers at risk ---------------------------------------------------------------------
  let bottom = plotBottom + 42;
  if (drawn.length > 0) {
    const titleY = plotBottom + 72;
    const rows: string[] = [
      textElement(
        { x: 16, y: titleY, 'font-size': FONT, 'font-weight': 'bold', fill: INK },
        'Number at risk',
      ),
    ];
    drawn.forEach((g, i) => {
      const rowY = titleY + ROW * (i + 1);
      const cells = [
        textElement(
          { x: plotLeft - 14, y: rowY, 'text-anchor': 'end', fill: g.colour, 'font-weight': 'bold' },
          g.summary.group,
        ),
      ];
      for (const t of xTicks) {
        const entry = (g.summary.atRisk ?? []).find((a) => Math.abs(a.time - t) < 1e-9);
        // The run's grid stops at its largest time; past a group's last time nobody is at risk.
        const pastFollowUp = !entry && t > (g.curve[g.curve.length - 1]?.time ?? 0);
        if (!entry && !pastFollowUp) continue;
        cells.push(
          textElement(
            {
              class: 'km-at-risk-count',
              'data-group': g.summary.group,
              'data-time': t,
              'data-source': entry ? undefined : 'past-follow-up',
              x: x(t),
              y: rowY,
              'text-anchor': 'middle',
            },
            !entry ? '0' : entry.nRisk === null ? '\u2013' : String(entry.nRisk),
          ),
        );
      }
      rows.push(element('g', { class: 'km-at-risk-row', 'data-group': g.summary.group }, cells.join('')));
      bottom = rowY;
    });
    parts.push(element('g', { class: 'km-at-risk', 'font-size': FONT, fill: INK }, rows.join('')));
  }

  if (options.caption ?? true) {
    const key = [
      'Vertical ticks: censored patients',
      medians.length > 0 ? 'dashed lines: medians' : null,
      options.ci ? 'shaded bands: pointwise 95% CI (log)' : null,
    ]
      .filter((part): part is string => part !== null)
      .join('; ');
    bottom += 28;
    parts.push(
      textElement({ class: 'km-caption', x: 16, y: bottom, 'font-size': 10.5, fill: MUTED }, `${key}.`),
    );
    bottom += 15;
    parts.push(
      textElement(
        { class: 'km-provenance', x: 16, y: bottom, 'font-size': 10.5, fill: MUTED },
        `survflow run ${input.run.id}, data cutoff ${input.run.cutoff}`,
      ),
    );
  }
  const height = Math.ceil(bottom + 14);

  const label = `Kaplan-Meier estimates of overall survival by ${legendTitle.toLowerCase()}`;
  const description = drawn
    .map(
      (g) =>
        `${g.summary.group}: n ${g.summary.n ?? 'NA'}, events ${g.summary.events ?? 'NA'}, median ` +
        formatMedianWithCi(g.summary.median, g.summary.medianLower, g.summary.medianUpper),
    )
    .join('; ');
  return element(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      class: 'km-plot',
      'data-grouping': input.grouping,
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': label,
      'font-family': FONT_FAMILY,
      'font-size': FONT,
    },
    [
      element('title', {}, escapeMarkup(label)),
      element('desc', {}, escapeMarkup(description)),
      element('rect', { class: 'km-background', width, height, fill: '#ffffff' }),
      ...parts,
    ].join(''),
  );
}

function xAxisLabel(grouping: string, landmarkMonths: number | undefined): string {
  if (!isLandmarkGrouping(grouping)) return 'Months since first-line immunotherapy';
  return landmarkMonths === undefined
    ? 'Months since the landmark'
    : `Months since the ${coordinate(landmarkMonths)}-month landmark`;
}

/** The at-risk grid step, doubled until the axis has at most 20 intervals. */
function autoTickStep(maxTime: number, gridStep: number): number {
  let step = gridStep;
  while (maxTime / step > 20) step *= 2;
  return step;
}

type Scale = (value: number) => number;

/** The Kaplan-Meier step function: flat until each event time, then down. */
export function stepCurvePath(curve: readonly CurvePoint[], x: Scale, y: Scale): string {
  let d = `M${coordinate(x(0))},${coordinate(y(1))}`;
  let level = 1;
  curve.forEach((point, i) => {
    const last = i === curve.length - 1;
    if (point.surv === level && !last) return; // a censoring only: the line runs on
    d += `H${coordinate(x(point.time))}`;
    if (point.surv !== level) {
      d += `V${coordinate(y(point.surv))}`;
      level = point.surv;
    }
  });
  return d;
}

/**
 * The pointwise confidence band as stepped polygons: on [t_i, t_i+1) the band is
 * [lower_i, upper_i] (and [1, 1] before the first time). Where a limit is undefined (S = 0 on
 * the log scale) the band stops, so a curve may give several polygons.
 */
export function confidenceBandPath(curve: readonly CurvePoint[], x: Scale, y: Scale): string | null {
  type Interval = { from: number; to: number; lower: number; upper: number };
  const intervals: (Interval | null)[] = [];
  let from = 0;
  let lower: number | null = 1;
  let upper: number | null = 1;
  for (const point of curve) {
    if (point.time > from) {
      intervals.push(lower === null || upper === null ? null : { from, to: point.time, lower, upper });
    }
    from = point.time;
    lower = point.lower;
    upper = point.upper;
  }
  const runs: Interval[][] = [];
  let current: Interval[] = [];
  for (const interval of intervals) {
    if (interval === null) {
      if (current.length) runs.push(current);
      current = [];
    } else {
      current.push(interval);
    }
  }
  if (current.length) runs.push(current);
  if (runs.length === 0) return null;

  const c = coordinate;
  return runs
    .map((run) => {
      const first = run[0] as Interval;
      let d = `M${c(x(first.from))},${c(y(first.upper))}`;
      // Consecutive intervals often share a limit (a censoring changes neither): skip null moves.
      run.forEach((interval, k) => {
        const next = run[k + 1];
        if (next && next.upper === interval.upper) return;
        d += `H${c(x(interval.to))}`;
        if (next) d += `V${c(y(next.upper))}`;
      });
      d += `V${c(y((run[run.length - 1] as Interval).lower))}`;
      for (let k = run.length - 1; k >= 0; k--) {
        const previous = run[k - 1];
        if (previous && previous.lower === (run[k] as Interval).lower) continue;
        d += `H${c(x((run[k] as Interval).from))}`;
        if (previous) d += `V${c(y(previous.lower))}`;
      }
      return `${d}Z`;
    })
    .join('');
}
