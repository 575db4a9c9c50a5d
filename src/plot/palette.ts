/**
 * Okabe & Ito's colour-blind-safe palette (Color Universal Design, 2008), in the order curves
 * take them. Yellow comes last: it is the one colour that is hard to see on white paper.
 */
export const OKABE_ITO = [
  '#0072B2', // blue
  '#D55E00', // vermillion
  '#009E73', // bluish green
  '#E69F00', // orange
  '#CC79A7', // reddish purple
  '#56B4E9', // sky blue
  '#000000', // black
  '#F0E442', // yellow
] as const;

/**
 * The colour of the group at `index` in its grouping's order. Suppressed groups keep their index,
 * so a group has the same colour whether or not a neighbour is suppressed in this run.
 */
export function groupColour(index: number): string {
  return OKABE_ITO[index % OKABE_ITO.length] ?? '#000000';
}
