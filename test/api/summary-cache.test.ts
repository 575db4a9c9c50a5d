import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { SummaryCache } from '../../src/api/summary-cache.js';
import type { Database } from '../../src/db/database.js';
import type { RunSummaryDocument } from '../../src/summaries/load-run-summary.js';

describe('SummaryCache.encodedAs', () => {
  it('encodes a run document once per format and serves the same bytes afterwards', () => {
    const cache = new SummaryCache({} as Kysely<Database>, { latestId: async () => null });
    const document = { run: { id: 'r1' } } as unknown as RunSummaryDocument;
    let calls = 0;
    const encode = (d: RunSummaryDocument) => {
      calls++;
      return JSON.stringify(d);
    };
    const first = cache.encodedAs(document, 'json', encode);
    expect(first.toString('utf8')).toBe('{"run":{"id":"r1"}}');
    expect(cache.encodedAs(document, 'json', encode)).toBe(first);
    expect(calls).toBe(1);
    expect(cache.encodedAs(document, 'csv', () => 'run\nr1\n').toString('utf8')).toBe('run\nr1\n');
    const other = { run: { id: 'r2' } } as unknown as RunSummaryDocument;
    expect(cache.encodedAs(other, 'json', encode).toString('utf8')).toBe('{"run":{"id":"r2"}}');
    expect(calls).toBe(2);
  });

  it('encodes text as UTF-8 (Content-Length counts bytes, not characters)', () => {
    const cache = new SummaryCache({} as Kysely<Database>, { latestId: async () => null });
    const document = { run: { id: 'r1' } } as unknown as RunSummaryDocument;
    expect(cache.encodedAs(document, 'json', () => '"≥ 12"').length).toBe(8);
  });
});
