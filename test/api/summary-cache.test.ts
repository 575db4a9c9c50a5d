import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { SummaryCache } from '../../src/api/summary-cache.js';
import type { Database } from '../../src/db/database.js';
import type { RunSummaryDocument } from '../../src/summaries/load-run-summary.js';

describe('SummaryCache.jsonOf', () => {
  it('serializes a run document once and serves the same text afterwards', () => {
    const cache = new SummaryCache({} as Kysely<Database>);
    const document = { run: { id: 'r1' } } as unknown as RunSummaryDocument;
    let calls = 0;
    const serialize = (d: RunSummaryDocument) => {
      calls++;
      return JSON.stringify(d);
    };
    expect(cache.jsonOf(document, serialize)).toBe('{"run":{"id":"r1"}}');
    expect(cache.jsonOf(document, serialize)).toBe('{"run":{"id":"r1"}}');
    expect(calls).toBe(1);
    const other = { run: { id: 'r2' } } as unknown as RunSummaryDocument;
    expect(cache.jsonOf(other, serialize)).toBe('{"run":{"id":"r2"}}');
    expect(calls).toBe(2);
  });
});
