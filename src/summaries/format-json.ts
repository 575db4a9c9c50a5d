import type { RunSummaryDocument } from './load-run-summary.js';

/** The SPEC section 8 JSON, pretty-printed, with a final newline. */
export function formatSummaryJson(document: RunSummaryDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
