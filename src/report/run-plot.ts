import { InputError } from '../errors.js';
import { type KaplanMeierOptions, renderKaplanMeierSvg } from '../plot/km-svg.js';
import { runPlotOptions } from '../plot/run-plot-options.js';
import type { RunReportInput } from './report-html.js';

/** The groupings a run has summaries for, in the run's order. */
export function groupingsOf(document: RunReportInput): string[] {
  return [...new Set(document.summaries.map((s) => s.grouping))];
}

/**
 * The Kaplan-Meier figure of one grouping of a run, with the options the run's parameters imply
 * (k, landmark, at-risk grid). Throws InputError naming the run's groupings for an unknown one.
 */
export function renderRunPlot(
  document: RunReportInput,
  grouping: string,
  options: Pick<KaplanMeierOptions, 'ci'> = {},
): string {
  const groupings = groupingsOf(document);
  if (!groupings.includes(grouping)) {
    throw new InputError(
      `run ${document.run.id} has no grouping "${grouping}"; it has: ${groupings.join(', ') || 'none'}`,
    );
  }
  return renderKaplanMeierSvg(
    {
      grouping,
      summaries: document.summaries.filter((s) => s.grouping === grouping),
      test: document.tests.find((t) => t.grouping === grouping) ?? null,
      run: { id: document.run.id, cutoff: document.run.cutoff },
    },
    { ...runPlotOptions(document.run.parameters), ...options },
  );
}
