import { errorMessage } from '../errors.js';
import {
  formatFixed,
  formatHazardRatio,
  formatMedianWithCi,
  formatMonths,
  formatProbabilityWithCi,
  formatPValue,
} from '../plot/format-stats.js';
import { groupingTitle, isLandmarkGrouping } from '../plot/grouping-labels.js';
import { renderKaplanMeierSvg } from '../plot/km-svg.js';
import { runPlotOptions } from '../plot/run-plot-options.js';
import type { PublishedGroupingTests, PublishedGroupSummary } from '../plot/summary-input.js';
import { escapeMarkup } from '../util/escape-markup.js';

/**
 * One self-contained HTML page for a published run: parameters, attrition, the summary and test
 * tables and a Kaplan-Meier figure per grouping, data-quality counts and the notes a reader
 * needs. Pure (no I/O, no clock): the same document gives the same bytes. Inline CSS and inline
 * SVG only; a Content-Security-Policy forbids every external request and every script, so the
 * page can be mailed, archived or opened offline.
 */

export type AttritionStepInput = {
  step: string;
  patients: number;
  excluded?: number | null;
  reasons?: Record<string, number> | null;
};

export type DataQualityCount = { flag: string; patients: number };

/** The SPEC section 8 summary document of a run (with the step curves) plus optional extras. */
export type RunReportInput = {
  run: {
    id: string;
    cutoff: string;
    publishedAt?: string | null;
    parameters?: Record<string, unknown> | null;
  };
  attrition: readonly AttritionStepInput[];
  summaries: readonly PublishedGroupSummary[];
  tests: readonly PublishedGroupingTests[];
  dataQuality?: readonly DataQualityCount[] | null;
};

export type RunReportOptions = {
  /** Draw confidence bands in the figures. Default: for groupings of at most two drawn groups
   * (with three or more, overlapping bands hide the curves). */
  ci?: boolean;
};

const e = escapeMarkup;

export function renderRunReportHtml(input: RunReportInput, options: RunReportOptions = {}): string {
  const parameters = input.run.parameters ?? {};
  const plotOptions = runPlotOptions(parameters);
  const groupings = [...new Set(input.summaries.map((s) => s.grouping))];
  const survivalTimes = survivalTimesOf(parameters, input.summaries);
  const title = `Overall survival report, run ${input.run.id}`;

  const sections = groupings.map((grouping) => {
    const summaries = input.summaries.filter((s) => s.grouping === grouping);
    const test = input.tests.find((t) => t.grouping === grouping) ?? null;
    let figure: string;
    try {
      figure = renderKaplanMeierSvg(
        { grouping, summaries, test, run: { id: input.run.id, cutoff: input.run.cutoff } },
        { ...plotOptions, ci: options.ci ?? summaries.filter((s) => !s.suppressed).length <= 2 },
      );
    } catch (error) {
      figure = `<p class="plot-unavailable">Figure not available: ${e(errorMessage(error))}</p>`;
    }
    return `<section class="grouping" data-grouping="${e(grouping)}">
<h2>${e(groupingTitle(grouping))} <span class="grouping-name">(${e(grouping)})</span></h2>
${isLandmarkGrouping(grouping) ? `<p class="landmark-note">Landmark analysis: patients alive and in follow-up at ${e(landmarkText(plotOptions.landmarkMonths))}, grouped by what they had received by then; time counted from the landmark.</p>` : ''}
<figure>${figure}</figure>
${summaryTable(summaries, survivalTimes, plotOptions.suppressionK)}
${testsTable(test)}
</section>`;
  });

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>Overall survival in first-line immunotherapy for recurrent or metastatic ESCC</h1>
<p class="subtitle">Kaplan-Meier analysis, survflow run <code>${e(input.run.id)}</code>, data cutoff <strong>${e(input.run.cutoff)}</strong>${input.run.publishedAt ? `, published ${e(input.run.publishedAt)}` : ''}.</p>
</header>
<main>
<section class="run">
<h2>Run and parameters</h2>
${parametersTable(input.run, parameters)}
</section>
<section class="attrition">
<h2>Cohort attrition</h2>
${attritionTable(input.attrition)}
</section>
${dataQualitySection(input.dataQuality)}
${sections.join('\n')}
<section class="notes">
<h2>Notes for the reader</h2>
${readerNotes(plotOptions.landmarkMonths, plotOptions.suppressionK)}
</section>
</main>
</body>
</html>
`;
}

function landmarkText(months: number | undefined): string {
  return months === undefined
    ? 'the landmark'
    : `the ${formatFixed(months, months % 1 === 0 ? 0 : 1)}-month landmark`;
}

function survivalTimesOf(
  parameters: Record<string, unknown>,
  summaries: readonly PublishedGroupSummary[],
): number[] {
  const configured = parameters.survivalTimes;
  if (Array.isArray(configured) && configured.every((t) => typeof t === 'number')) return configured;
  const first = summaries.find((s) => s.survival && s.survival.length > 0);
  return first?.survival?.map((s) => s.time) ?? [12, 24, 36];
}

function parameterValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object')) return value.join(', ');
  return JSON.stringify(value);
}

function parametersTable(run: RunReportInput['run'], parameters: Record<string, unknown>): string {
  const rows: [string, string][] = [
    ['run id', run.id],
    ['data cutoff', run.cutoff],
    ...(run.publishedAt ? ([['published', run.publishedAt]] as [string, string][]) : []),
    ...Object.keys(parameters)
      .sort()
      .filter((key) => key !== 'cutoff')
      .map((key): [string, string] => [key, parameterValue(parameters[key])]),
  ];
  return `<table class="parameters"><tbody>
${rows.map(([key, value]) => `<tr><th scope="row">${e(key)}</th><td>${e(value)}</td></tr>`).join('\n')}
</tbody></table>`;
}

function attritionTable(steps: readonly AttritionStepInput[]): string {
  if (steps.length === 0) return '<p>No attrition table in this run.</p>';
  const rows = steps.map((step) => {
    const reasons = Object.entries(step.reasons ?? {})
      .filter(([, count]) => count > 0)
      .map(([reason, count]) => `<li>${e(reason || 'unspecified')}: ${count}</li>`)
      .join('');
    return `<tr><td>${e(step.step)}</td><td class="num">${step.patients}</td><td class="num">${
      step.excluded === undefined || step.excluded === null ? '' : step.excluded
    }</td><td>${reasons ? `<ul>${reasons}</ul>` : ''}</td></tr>`;
  });
  return `<table class="attrition-table">
<thead><tr><th scope="col">Step</th><th scope="col" class="num">Patients</th><th scope="col" class="num">Excluded</th><th scope="col">Reasons for exclusion</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>`;
}

function dataQualitySection(flags: readonly DataQualityCount[] | null | undefined): string {
  if (!flags) return '';
  const body =
    flags.length === 0
      ? '<p>No data-quality flags were raised.</p>'
      : `<table class="data-quality-table">
<thead><tr><th scope="col">Flag</th><th scope="col" class="num">Patients</th></tr></thead>
<tbody>
${flags.map((f) => `<tr><td>${e(f.flag)}</td><td class="num">${f.patients}</td></tr>`).join('\n')}
</tbody></table>`;
  return `<section class="data-quality">
<h2>Data-quality flags</h2>
<p>Plausibility problems are kept in the ledger and flagged on the patient; each flag's analysis rule is documented with the recompute.</p>
${body}
</section>`;
}

function summaryTable(
  summaries: readonly PublishedGroupSummary[],
  times: readonly number[],
  suppressionK: number | undefined,
): string {
  const columns = 6 + times.length + 2;
  const rows = summaries.map((s) => {
    if (s.suppressed) {
      const why = suppressionK === undefined ? 'too few patients' : `n < ${suppressionK}`;
      return `<tr class="suppressed" data-group="${e(s.group)}"><th scope="row">${e(s.group)}</th><td colspan="${columns - 1}">suppressed (${e(why)})</td></tr>`;
    }
    const survival = times.map((t) => {
      const at = s.survival?.find((p) => Math.abs(p.time - t) < 1e-9);
      if (!at || at.surv === null || at.inRange === false) return '<td class="num">NA</td>';
      return `<td class="num">${e(formatProbabilityWithCi(at.surv, at.lower, at.upper))}</td>`;
    });
    const rmst = s.rmst ? `${formatFixed(s.rmst.estimate, 1)} (${formatMonths(s.rmst.tau)})` : 'NA';
    return `<tr data-group="${e(s.group)}"><th scope="row">${e(s.group)}</th><td class="num">${s.n ?? ''}</td><td class="num">${s.events ?? ''}</td><td class="num">${s.censored ?? ''}</td><td class="num">${e(
      formatMedianWithCi(s.median, s.medianLower, s.medianUpper),
    )}</td>${survival.join('')}<td class="num">${e(rmst)}</td><td class="num">${e(formatMonths(s.followUpMedian))}</td></tr>`;
  });
  const header = [
    '<th scope="col">Group</th>',
    '<th scope="col" class="num">n</th>',
    '<th scope="col" class="num">Events</th>',
    '<th scope="col" class="num">Censored</th>',
    '<th scope="col" class="num">Median OS (95% CI), months</th>',
    ...times.map((t) => `<th scope="col" class="num">S(${e(String(t))}) (95% CI)</th>`),
    '<th scope="col" class="num">RMST (&tau;), months</th>',
    '<th scope="col" class="num">Median follow-up, months</th>',
  ];
  return `<table class="summary-table">
<thead><tr>${header.join('')}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>`;
}

function testsTable(test: PublishedGroupingTests | null): string {
  if (!test || (!test.logRank && !test.cox)) return '';
  const rows: string[] = [];
  if (test.logRank) {
    const { chisq, df, p } = test.logRank;
    rows.push(
      `<tr class="logrank"><th scope="row">Log-rank test</th><td>&chi;&sup2; = ${e(formatFixed(chisq, 2))}, df = ${df}, ${e(formatPValue(p))}</td></tr>`,
    );
  }
  if (test.cox) {
    rows.push(
      `<tr class="cox"><th scope="row">Cox model (Efron ties)</th><td>${e(formatHazardRatio(test.cox))}, Wald ${e(formatPValue(test.cox.p))}</td></tr>`,
    );
  }
  return `<table class="tests-table"><tbody>
${rows.join('\n')}
</tbody></table>`;
}

function readerNotes(landmarkMonths: number | undefined, suppressionK: number | undefined): string {
  const landmark = landmarkText(landmarkMonths);
  return `<p><strong>Immortal-time bias.</strong> Grouping patients by the number of immunotherapy cycles they received (1-6, 7-12, &gt;12) compares groups defined by the future: to receive more than 12 cycles a patient must survive long enough to be given them, so the time before the 13th cycle is "immortal" and the long-survival advantage of the &gt;12 group is partly built in. The same holds, to a lesser degree, for radiotherapy given after the start of immunotherapy. These curves describe the cohort; they do not estimate the effect of giving more cycles.</p>
<p><strong>Landmark variants.</strong> The <code>cycles_landmark</code> and <code>radiotherapy_landmark</code> groupings keep only patients alive and in follow-up at ${e(landmark)} after the first cycle, classify them by the cycles (or radiotherapy) received by that landmark, and count survival time from the landmark. This removes the immortal time, at the price of fewer patients and of ignoring what happens after the landmark.</p>
<p><strong>Conventions.</strong> Time zero is the first first-line immunotherapy cycle; months are days / 30.4375; death from any cause is the event; patients without death are censored at their last known alive date on or before the cutoff. Medians and their 95% confidence intervals follow R's <code>survfit</code> (log transformation, Greenwood variance); "NR" means not reached. The log-rank test is <code>survdiff</code>; hazard ratios come from a Cox model with Efron ties, the reference being the first group in sort order. RMST is the restricted mean survival time up to &tau;; median follow-up is estimated by the reverse Kaplan-Meier method.</p>
<p><strong>Small cells.</strong> Groups describing fewer than ${suppressionK === undefined ? 'k' : suppressionK} patients are suppressed: their figures are not shown and their curves are not drawn.</p>`;
}

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font-family: Helvetica, Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif; color: #222; background: #fff; line-height: 1.4; font-size: 14px; }
main { max-width: 1100px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
.grouping-name { font-weight: normal; color: #666; font-size: 13px; }
.subtitle { margin: 0; color: #444; }
code { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 12px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { padding: 4px 10px; text-align: left; vertical-align: top; border-bottom: 1px solid #e2e2e2; }
thead th { border-bottom: 2px solid #444; font-weight: bold; }
tbody th { font-weight: bold; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.suppressed td { color: #777; font-style: italic; }
ul { margin: 0; padding-left: 18px; }
figure { margin: 12px 0; }
figure svg { max-width: 100%; height: auto; display: block; }
.landmark-note, .plot-unavailable { color: #444; font-style: italic; }
.notes p { max-width: 900px; }
@media print { body { padding: 0; } section.grouping { break-inside: avoid; } }
`;
