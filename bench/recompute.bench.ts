/**
 * Recompute: time to a published run (`survflow recompute --wait` served by one `survflow worker`
 * process) over a ledger of synthetic patients, beside the floor measured in the same run on the
 * same database: one sequential scan of the ledger (`select count(*) from events`). The ledger is
 * loaded by COPY (not through the queue) so the setup stays bounded; then VACUUM ANALYZE, as
 * autovacuum would after a backfill.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { loadConfig } from '../src/config.js';
import { QUEUE_NAMES } from '../src/jobs/contracts.js';
import { cohortFile, copyText, ledgerRows } from './support/cohort-file.js';
import {
  type BenchDatabase,
  createBenchDatabase,
  deletePrefix,
  median,
  runSurvflow,
  startWorkerProcesses,
  survflowEnv,
  uniquePrefix,
  workerCount,
} from './support/services.js';
import type { ScenarioModule, ScenarioResult } from './types.js';

const MODULE = 'recompute';
const CUTOFF = '2024-06-30';
const pseudonymKey = loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'silent' }).pseudonymKey;

async function loadLedger(bench: BenchDatabase, file: string): Promise<number> {
  const { rows } = await ledgerRows(file, pseudonymKey);
  const client = new pg.Client({ connectionString: bench.url });
  await client.connect();
  try {
    await client.query('begin');
    await client.query(
      `create temporary table incoming (source text, event_id text, type text, schema_version smallint,
         patient_key text, occurred_on date, payload jsonb, content_hash text) on commit drop`,
    );
    await pipeline(Readable.from(copyText(rows)), client.query(copyFrom('copy incoming from stdin')));
    const inserted = await client.query(
      `insert into events (source, event_id, type, schema_version, patient_key, occurred_on, payload, content_hash, batch_id)
       select source, event_id, type, schema_version, patient_key, occurred_on, payload, content_hash, 'bench-load'
       from incoming on conflict (source, event_id) do nothing`,
    );
    await client.query('commit');
    await client.query('vacuum analyze events');
    return inserted.rowCount ?? 0;
  } finally {
    await client.end();
  }
}

/** Started -> published of the newest run, from the runs table (the worker's own clock marks). */
async function lastRun(bench: BenchDatabase) {
  const { rows } = await sql<{ ms: number; status: string; analysed: number | null }>`
    select (extract(epoch from coalesce(published_at, finished_at) - started_at) * 1000)::float8 as ms,
           status, patients_analysed as analysed
    from runs order by started_at desc limit 1`.execute(bench.db);
  return rows[0]!;
}

const recomputeBench: ScenarioModule = {
  name: MODULE,
  kind: 'scenario',
  scenarios: [
    {
      name: 'full run vs ledger scan',
      timeoutMs: 10 * 60_000,
      run: async ({ quick, log }) => {
        const patients = quick ? 2_000 : 100_000;
        const runs = quick ? 1 : 2;
        const file = await cohortFile(patients, 13);
        const bench = await createBenchDatabase('recompute');
        const prefix = uniquePrefix('recompute');
        try {
          const events = await loadLedger(bench, file);
          log(`ledger: ${events} events for ${patients} patients`);
          const scans: number[] = [];
          for (let i = 0; i < (quick ? 1 : 3); i++) {
            const started = performance.now();
            await sql`select count(*) from events`.execute(bench.db);
            scans.push(performance.now() - started);
          }
          const env = survflowEnv(bench.url, prefix);
          const workers = await startWorkerProcesses(1, env, () =>
            workerCount(QUEUE_NAMES.recompute, prefix),
          );
          const times: number[] = [];
          const cli: number[] = [];
          let analysed = 0;
          let rss: number | undefined;
          try {
            for (let i = 0; i < runs; i++) {
              const run = await runSurvflow(
                ['recompute', '--cutoff', CUTOFF, '--wait', '--timeout', '900'],
                env,
              );
              const row = await lastRun(bench);
              if (row.status !== 'published') throw new Error(`bench: run ended ${row.status}`);
              times.push(row.ms);
              cli.push(run.ms);
              analysed = row.analysed ?? 0;
              log(`run ${i + 1}: ${(row.ms / 1000).toFixed(1)} s (CLI ${(run.ms / 1000).toFixed(1)} s)`);
            }
          } finally {
            rss = workers.peakRssMb();
            await workers.stop();
          }
          const ms = median(times);
          const floor = median(scans);
          const result: ScenarioResult = {
            module: MODULE,
            case: `full run to publication, ${patients.toLocaleString('en-US')} patients`,
            size: events,
            unit: 'events',
            runs,
            medianMs: ms,
            minMs: Math.min(...times),
            maxMs: Math.max(...times),
            ceiling: { name: 'select count(*) from events', medianMs: floor },
            ratio: ms / floor,
            goal: '<= 2x scan, worker RSS <= 512 MB',
            goalMet: ms / floor <= 2 && (rss ?? 0) <= 512,
            peakRssMb: rss,
            notes: `${analysed} patients analysed; run started -> published (runs table); CLI wall time ${(median(cli) / 1000).toFixed(1)} s`,
          };
          return [result];
        } finally {
          await bench.drop();
          await deletePrefix(prefix);
        }
      },
    },
  ],
};

export default recomputeBench;
