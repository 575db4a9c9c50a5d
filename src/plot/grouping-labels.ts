/** Human titles of the SPEC's groupings, for legends and report headings. */
const GROUPING_TITLES: Record<string, string> = {
  overall: 'All patients',
  radiotherapy: 'First-line local radiotherapy',
  cycles: 'First-line immunotherapy cycles',
  radiotherapy_cycles: 'Local radiotherapy : immunotherapy cycles',
  cycles_landmark: 'Immunotherapy cycles received by the landmark',
  radiotherapy_landmark: 'Local radiotherapy by the landmark',
};

export function groupingTitle(grouping: string): string {
  return GROUPING_TITLES[grouping] ?? grouping;
}

/** The landmark groupings measure time from the landmark L, not from the first cycle. */
export function isLandmarkGrouping(grouping: string): boolean {
  return grouping.endsWith('_landmark');
}
