import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { InputError } from '../errors.js';
import type { IngestItem } from '../jobs/contracts.js';

/**
 * Streams NDJSON files line by line (constant memory, whatever the size). Every non-blank line
 * is one item, kept as raw text for the worker to parse. Blank lines are not events and are
 * skipped. Line numbers run on across files (file 2 starts after file 1's last line), so they
 * are unique within a submission; `FileSpan`s map them back to `file:line` for people.
 */

export type FileSpan = { path: string; firstLine: number; lastLine: number };

export async function assertReadable(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    try {
      await access(path);
    } catch (error) {
      throw new InputError(`cannot read ${path}`, { cause: error });
    }
  }
}

export async function* readNdjsonItems(
  paths: readonly string[],
  spans: FileSpan[] = [],
  onBytes?: (bytes: number) => void,
): AsyncGenerator<IngestItem> {
  let offset = 0;
  for (const path of paths) {
    const span: FileSpan = { path, firstLine: offset + 1, lastLine: offset };
    spans.push(span);
    const lines = createInterface({
      input: createReadStream(path, 'utf8'),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    for await (const text of lines) {
      offset++;
      span.lastLine = offset;
      onBytes?.(Buffer.byteLength(text, 'utf8') + 1);
      if (text.trim() === '') continue;
      yield { line: offset, raw: text };
    }
  }
}

/** `file:line` for a submission-wide line number. */
export function locateLine(spans: readonly FileSpan[], line: number | null): string {
  if (line === null) return '?';
  const span = spans.find((s) => line >= s.firstLine && line <= s.lastLine);
  return span ? `${span.path}:${line - span.firstLine + 1}` : `line ${line}`;
}
