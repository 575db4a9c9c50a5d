import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FileSpan, locateLine, readNdjsonItems } from '../../src/ingest/read-ndjson.js';
import type { IngestItem } from '../../src/jobs/contracts.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'survflow-ndjson-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileNo = 0;
async function fileOf(text: string): Promise<string> {
  const file = path.join(dir, `f${fileNo++}.ndjson`);
  await writeFile(file, text, 'utf8');
  return file;
}

async function readAll(paths: string[], chunkBytes?: number) {
  const spans: FileSpan[] = [];
  let bytes = 0;
  const items: IngestItem[] = [];
  for await (const chunk of readNdjsonItems(paths, spans, (n) => (bytes += n), chunkBytes))
    items.push(...chunk);
  return { items, spans, bytes };
}

/** What the reader must match: readline's lines (\n, \r\n, lone \r), blank ones skipped. */
async function reference(paths: string[]): Promise<IngestItem[]> {
  const items: IngestItem[] = [];
  let line = 0;
  for (const file of paths) {
    const lines = createInterface({
      input: createReadStream(file, 'utf8'),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    for await (const raw of lines) {
      line++;
      if (raw.trim() !== '') items.push({ line, raw });
    }
  }
  return items;
}

describe('readNdjsonItems', () => {
  it('splits lines as readline does, whatever the line ends and chunk boundaries', async () => {
    const piece = fc.oneof(
      fc.constantFrom('\n', '\r\n', '\r', ' ', '\t', '{"a":1}', 'é', '😀', '\r\r\n\n'),
      fc.string({ unit: 'grapheme', maxLength: 8 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(piece, { maxLength: 40 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 17 }),
        async (files, chunkBytes) => {
          const paths = await Promise.all(files.map((pieces) => fileOf(pieces.join(''))));
          const { items, bytes } = await readAll(paths, chunkBytes);
          expect(items).toEqual(await reference(paths));
          expect(bytes).toBe(files.reduce((n, pieces) => n + Buffer.byteLength(pieces.join('')), 0));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('numbers lines across files and maps them back to file:line', async () => {
    const a = await fileOf('{"n":1}\n\n{"n":2}\n');
    const b = await fileOf('{"n":3}\r\n{"n":4}');
    const { items, spans } = await readAll([a, b]);
    expect(items.map((i) => i.line)).toEqual([1, 3, 4, 5]);
    expect(items.map((i) => locateLine(spans, i.line))).toEqual([`${a}:1`, `${a}:3`, `${b}:1`, `${b}:2`]);
  });
});
