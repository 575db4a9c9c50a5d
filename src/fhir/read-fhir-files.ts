import { readFile } from 'node:fs/promises';
import type { FileSpan } from '../ingest/read-ndjson.js';
import type { IngestItem } from '../jobs/contracts.js';
import { mapBundle } from './map-bundle.js';

/**
 * `survflow ingest --format fhir`: each file holds one Bundle (pretty-printed JSON is fine) or
 * NDJSON of Bundles. Every entry becomes one item: a mapped event, or the resource itself marked
 * with why it cannot be mapped. A line that is not a Bundle is one rejected item. Items carry the
 * line their Bundle starts on (line numbers run on across files, as for NDJSON).
 */
export async function* readFhirItems(
  paths: readonly string[],
  source: string,
  spans: FileSpan[] = [],
  onSupporting?: (count: number) => void,
  onBytes?: (bytes: number) => void,
): AsyncGenerator<IngestItem> {
  let offset = 0;
  for (const path of paths) {
    const text = await readFile(path, 'utf8');
    onBytes?.(Buffer.byteLength(text, 'utf8'));
    const lineCount = text.split('\n').length;
    spans.push({ path, firstLine: offset + 1, lastLine: offset + lineCount });
    let bundles: { line: number; text: string }[];
    try {
      JSON.parse(text);
      bundles = [{ line: offset + 1, text }];
    } catch {
      bundles = text
        .split('\n')
        .map((t, i) => ({ line: offset + i + 1, text: t }))
        .filter((b) => b.text.trim() !== '');
    }
    for (const bundle of bundles) yield* bundleToItems(bundle.text, bundle.line, source, onSupporting);
    offset += lineCount;
  }
}

function* bundleToItems(
  text: string,
  line: number,
  source: string,
  onSupporting?: (count: number) => void,
): Generator<IngestItem> {
  let outcomes: ReturnType<typeof mapBundle>;
  try {
    outcomes = mapBundle(JSON.parse(text), source);
  } catch (error) {
    const message = error instanceof SyntaxError ? 'not valid JSON' : (error as Error).message;
    yield { line, raw: text, rejection: [{ path: '(bundle)', message }] };
    return;
  }
  let supporting = 0;
  for (const outcome of outcomes) {
    if (outcome.kind === 'supporting') supporting++;
    else if (outcome.kind === 'rejected') yield { line, raw: outcome.raw, rejection: outcome.reasons };
    else yield { line, raw: JSON.stringify(outcome.event) };
  }
  if (supporting) onSupporting?.(supporting);
}
