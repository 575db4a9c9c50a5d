import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { InputError } from '../errors.js';
import type { IngestItem } from '../jobs/contracts.js';

/**
 * Streams NDJSON files (constant memory, whatever the size). Every non-blank line is one item,
 * kept as raw text for the worker to parse. Blank lines are not events and are skipped. Line
 * numbers run on across files (file 2 starts after file 1's last line), so they are unique
 * within a submission; `FileSpan`s map them back to `file:line` for people.
 *
 * Lines end at `\n`, `\r\n` or a lone `\r` (as `readline` splits them). The file is read in
 * large chunks and cut with `indexOf`, and the items of a chunk are yielded together: a
 * backfill of millions of lines spends its producer time sending, not splitting.
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

const CHUNK_BYTES = 1 << 20;
const ANY_LINE_END = /\r\n|\n|\r/g;

/** The items of the NDJSON files, a chunk's worth at a time, in order. */
export async function* readNdjsonItems(
  paths: readonly string[],
  spans: FileSpan[] = [],
  onBytes?: (bytes: number) => void,
  /** Read size; small values let tests put line ends across chunk boundaries. */
  chunkBytes = CHUNK_BYTES,
): AsyncGenerator<IngestItem[]> {
  let offset = 0;
  for (const path of paths) {
    const span: FileSpan = { path, firstLine: offset + 1, lastLine: offset };
    spans.push(span);
    const decoder = new StringDecoder('utf8');
    let carry = '';
    const take = (text: string, final: boolean): IngestItem[] => {
      const items: IngestItem[] = [];
      const line = (raw: string) => {
        offset++;
        if (raw.trim() !== '') items.push({ line: offset, raw });
      };
      // A `\r` at the very end may be the first half of `\r\n`: keep it until more text comes.
      const end = !final && text.endsWith('\r') ? text.length - 1 : text.length;
      let start = 0;
      if (text.indexOf('\r') === -1) {
        for (let nl = text.indexOf('\n'); nl !== -1 && nl < end; nl = text.indexOf('\n', start)) {
          line(text.slice(start, nl));
          start = nl + 1;
        }
      } else {
        ANY_LINE_END.lastIndex = 0;
        for (let m = ANY_LINE_END.exec(text); m !== null; m = ANY_LINE_END.exec(text)) {
          if (m.index >= end) break;
          line(text.slice(start, m.index));
          start = m.index + m[0].length;
        }
      }
      carry = text.slice(start);
      if (final && carry !== '') {
        line(carry);
        carry = '';
      }
      span.lastLine = offset;
      return items;
    };
    for await (const chunk of createReadStream(path, { highWaterMark: chunkBytes })) {
      onBytes?.((chunk as Buffer).length);
      const items = take(carry + decoder.write(chunk as Buffer), false);
      if (items.length > 0) yield items;
    }
    const items = take(carry + decoder.end(), true);
    if (items.length > 0) yield items;
  }
}

/** `file:line` for a submission-wide line number. */
export function locateLine(spans: readonly FileSpan[], line: number | null): string {
  if (line === null) return '?';
  const span = spans.find((s) => line >= s.firstLine && line <= s.lastLine);
  return span ? `${span.path}:${line - span.firstLine + 1}` : `line ${line}`;
}
