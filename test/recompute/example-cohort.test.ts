import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { openSubmission } from '../../src/ingest/submission.js';
import { writeIngestBatch } from '../../src/ingest/write-batch.js';
import { createLogger } from '../../src/logger.js';
import { runRecompute } from '../../src/recompute/run-recompute.js';
import { loadRunSummary } from '../../src/summaries/load-run-summary.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

let testDb: TestDatabase;
let config: Config;

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url });
});
afterAll(async () => {
  await testDb?.close();
});

describe('the 73-patient example through ingest and recompute', () => {
  it('reproduces the five medians and the attrition of examples/README.md', async () => {
    const lines = readFileSync(new URL('../../examples/escc-73.ndjson', import.meta.url), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '');
    const submission = await openSubmission(testDb.db, { id: 'example-73', channel: 'cli', source: null });
    for (let i = 0, batch = 0; i < lines.length; i += 500, batch++) {
      await writeIngestBatch(testDb.db, config, {
        submissionId: submission.id,
        batchIndex: batch,
        source: null,
        items: lines.slice(i, i + 500).map((raw, j) => ({ line: i + j + 1, raw })),
      });
    }
    const { runId } = await runRecompute(
      testDb.db,
      config,
      { cutoff: '2024-12-31', trigger: 'test' },
      { logger: createLogger('silent') },
    );
    const document = await loadRunSummary(testDb.db, runId);
    const median = (grouping: string, group: string) =>
      document.summaries.find((s) => s.grouping === grouping && s.group === group)?.median;
    expect(median('radiotherapy', 'yes')).toBeCloseTo(959 / 30.4375, 10);
    expect(median('radiotherapy', 'no')).toBeCloseTo(326 / 30.4375, 10);
    expect(median('cycles', '1-6')).toBeCloseTo(444 / 30.4375, 10);
    expect(median('cycles', '7-12')).toBeCloseTo(642 / 30.4375, 10);
    expect(median('cycles', '>12')).toBeCloseTo(1586 / 30.4375, 10);
    expect(document.summaries.find((s) => s.grouping === 'overall')).toMatchObject({ n: 73, events: 60 });
    expect(document.attrition.slice(1, 5)).toEqual([
      { step: 'registered', patients: 77, excluded: 0, reasons: {} },
      {
        step: 'ESCC recurrent/metastatic',
        patients: 74,
        excluded: 3,
        reasons: { 'histology not ESCC': 2, 'disease setting not recurrent or metastatic': 1 },
      },
      {
        step: 'line-1 immunotherapy by cutoff',
        patients: 73,
        excluded: 1,
        reasons: { 'no line-1 immunotherapy cycle on or before cutoff': 1 },
      },
      { step: 'analysable', patients: 73, excluded: 0, reasons: {} },
    ]);
    const flagged = await testDb.db
      .selectFrom('run_patients')
      .select('flags')
      .where('run_id', '=', runId)
      .where(({ fn }) => fn('cardinality', ['flags']), '>', 0)
      .execute();
    expect(flagged).toEqual([]);
  });
});
