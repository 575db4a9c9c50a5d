import { readFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { Config } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { openSubmission } from '../../src/ingest/submission.js';
import { writeIngestBatch } from '../../src/ingest/write-batch.js';
import { createLogger } from '../../src/logger.js';
import { runRecompute } from '../../src/recompute/run-recompute.js';

/** The data cutoff examples/README.md uses for the 73-patient example. */
export const EXAMPLE_CUTOFF = '2024-12-31';

/**
 * Ingests examples/escc-73.ndjson (the 73-patient cohort modelled on Yu et al. 2025) into a test
 * database and publishes a recompute run at the example's cutoff. Returns the run id.
 */
export async function publishExampleRun(db: Kysely<Database>, config: Config): Promise<string> {
  const lines = readFileSync(new URL('../../examples/escc-73.ndjson', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
  const submission = await openSubmission(db, { id: 'example-73', channel: 'cli', source: null });
  for (let i = 0, batch = 0; i < lines.length; i += 500, batch++) {
    await writeIngestBatch(db, config, {
      submissionId: submission.id,
      batchIndex: batch,
      source: null,
      items: lines.slice(i, i + 500).map((raw, j) => ({ line: i + j + 1, raw })),
    });
  }
  const { runId } = await runRecompute(
    db,
    config,
    { cutoff: EXAMPLE_CUTOFF, trigger: 'test' },
    { logger: createLogger('silent') },
  );
  return runId;
}
