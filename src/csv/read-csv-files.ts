import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import type { FileSpan } from '../ingest/read-ndjson.js';
import type { IngestItem } from '../jobs/contracts.js';
import { mapCsv } from './map-csv.js';

/**
 * `survflow ingest --format csv`: each file is one CSV table (README "CSV intake"). A mapped row
 * becomes an event item; a malformed row keeps its text and its reasons (with its line number)
 * and is accounted as rejected. A bad header fails the command before anything is enqueued.
 */
export async function* readCsvItems(
  paths: readonly string[],
  source: string | null,
  spans: FileSpan[] = [],
  onBytes?: (bytes: number) => void,
): AsyncGenerator<IngestItem> {
  let offset = 0;
  for (const path of paths) {
    const text = await readFile(path, 'utf8');
    onBytes?.(Buffer.byteLength(text, 'utf8'));
    const lineCount = text.split('\n').length;
    spans.push({ path, firstLine: offset + 1, lastLine: offset + lineCount });
    let outcomes: ReturnType<typeof mapCsv>;
    try {
      outcomes = mapCsv(text, source);
    } catch (error) {
      throw new InputError(`${path}: ${(error as Error).message}`, { cause: error });
    }
    for (const outcome of outcomes) {
      const line = offset + outcome.line;
      if (outcome.kind === 'rejected') yield { line, raw: outcome.raw, rejection: outcome.reasons };
      else yield { line, raw: JSON.stringify(outcome.event) };
    }
    offset += lineCount;
  }
}
