import type { KaplanMeierOptions } from './km-svg.js';

/**
 * The plot options a run's recorded parameters imply: its small-cell threshold k (named in the
 * suppression note), its landmark L (in the landmark groupings' axis label) and its at-risk grid
 * step (the x-axis ticks sit on that grid, so every at-risk column has a value). Parameters are
 * stored jsonb, so each is read defensively.
 */
export function runPlotOptions(
  parameters: Record<string, unknown> | null | undefined,
): Pick<KaplanMeierOptions, 'suppressionK' | 'landmarkMonths' | 'atRiskStepMonths'> {
  const number = (key: string) => {
    const value = parameters?.[key];
    return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
  };
  const options: Pick<KaplanMeierOptions, 'suppressionK' | 'landmarkMonths' | 'atRiskStepMonths'> = {};
  const k = number('suppressionK');
  if (k !== undefined) options.suppressionK = k;
  const landmark = number('landmarkMonths');
  if (landmark !== undefined) options.landmarkMonths = landmark;
  const step = number('atRiskStep');
  if (step !== undefined && step > 0) options.atRiskStepMonths = step;
  return options;
}
