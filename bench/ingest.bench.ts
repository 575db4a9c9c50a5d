/**
 * Ingest, end to end: `survflow ingest FILE --wait` of a synthetic cohort through Redis and
 * `survflow worker` processes into the ledger of a bench database of its own, beside the ceiling
 * measured in the same run on the same database: the same rows (pseudonymized and hashed as the
 * worker does, before the clock starts) loaded by COPY into a temporary table plus one
 * INSERT ... SELECT ... ON CONFLICT DO NOTHING into the ledger, in one transaction. The ceiling,
 * the ingest and its re-ingest of the same file (every event a duplicate) take turns three times;
 * each figure is the median of its runs. Then scale-out with 1, 2 and 4 worker
 * processes, each checked: ledger rows = distinct (source, eventId) keys of the file.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { QUEUE_NAMES } from '../src/jobs/contracts.js';
import { cohortFile, EVENTS_PER_PATIENT, type LedgerRow, ledgerRows } from './support/cohort-file.js';
import { copyIntoLedger } from './support/copy-into-ledger.js';
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

const MODULE = 'ingest';
const sizes = (quick: boolean) => ({
  events: quick ? 20_000 : 1_000_000,
  scaleEvents: quick ? 5_000 : 250_000,
  // The ceiling and the ingest (with its re-ingest) take turns, three times each: a machine
  // that slows down or speeds up during the bench moves both sides.
  runs: quick ? 1 : 3,
});

async function resetLedger(bench: BenchDatabase) {
  await sql`truncate events, rejected_events, ingest_batches, ingest_submissions restart identity`.execute(
    bench.db,
  );
  await sql`checkpoint`.execute(bench.db);
}

/** The ceiling: COPY into a temporary table, then one set-based insert into the ledger. */
async function ceilingLoad(bench: BenchDatabase, rows: LedgerRow[]): Promise<number> {
  await resetLedger(bench);
  const client = new pg.Client({ connectionString: bench.url });
  await client.connect();
  try {
    const started = performance.now();
    await copyIntoLedger(client, rows, 'ceiling');
    return performance.now() - started;
  } finally {
    await client.end();
  }
}

/**
 * Milliseconds from the opening of the newest submission (DB clock; same machine, same clock) to
 * the end of the CLI process: the ingest itself, without the CLI's start-up (loading Node, tsx
 * and the modules: seconds on a loaded machine, and the same for 20 events as for 1,000,000).
 */
async function ingestSpanMs(bench: BenchDatabase, endedAt: number): Promise<number> {
  const { rows } = await sql<{ opened: string }>`
    select (extract(epoch from created_at) * 1000)::float8 as opened
    from ingest_submissions order by created_at desc limit 1`.execute(bench.db);
  return endedAt - Number(rows[0]!.opened);
}

async function ledgerCount(bench: BenchDatabase): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from events`.execute(bench.db);
  return Number(rows[0]!.n);
}

function accountField(stdout: string, field: 'accepted' | 'duplicate' | 'rejected'): number {
  const match = new RegExp(`^\\s+${field}\\s+(\\d+)\\s*$`, 'm').exec(stdout);
  return match ? Number(match[1]) : 0;
}

/** One `survflow ingest --wait` with `workers` worker processes already consuming the queue. */
async function ingestWithWorkers(
  bench: BenchDatabase,
  file: string,
  workers: number,
  runs: number,
  reingest: boolean,
  beforeRun: () => Promise<void> = async () => {},
) {
  const prefix = uniquePrefix('ingest');
  const env = survflowEnv(bench.url, prefix);
  const processes = await startWorkerProcesses(workers, env, () => workerCount(QUEUE_NAMES.ingest, prefix));
  try {
    const first: number[] = [];
    const again: number[] = [];
    const cliMs: number[] = [];
    let accepted = 0;
    let duplicate = 0;
    let rejected = 0;
    let ledger = 0;
    for (let i = 0; i < runs; i++) {
      await beforeRun();
      await resetLedger(bench);
      const run = await runSurvflow(
        ['ingest', file, '--wait', '--no-local-worker', '--timeout', '1800'],
        env,
      );
      first.push(await ingestSpanMs(bench, run.endedAt));
      cliMs.push(run.ms);
      accepted = accountField(run.stdout, 'accepted');
      duplicate = accountField(run.stdout, 'duplicate');
      rejected = accountField(run.stdout, 'rejected');
      ledger = await ledgerCount(bench);
      if (reingest) {
        const second = await runSurvflow(
          ['ingest', file, '--wait', '--no-local-worker', '--timeout', '1800'],
          env,
        );
        again.push(await ingestSpanMs(bench, second.endedAt));
        const dupAgain = accountField(second.stdout, 'duplicate');
        if (accountField(second.stdout, 'accepted') !== 0 || (await ledgerCount(bench)) !== ledger) {
          throw new Error('bench: re-ingest changed the ledger');
        }
        duplicate = dupAgain;
      }
    }
    return { first, again, cliMs, accepted, duplicate, rejected, ledger, peakRssMb: processes.peakRssMb() };
  } finally {
    await processes.stop();
    await deletePrefix(prefix);
  }
}

const pseudonymKey = loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'silent' }).pseudonymKey;

const ingestBench: ScenarioModule = {
  name: MODULE,
  kind: 'scenario',
  scenarios: [
    {
      name: 'one worker vs COPY ceiling, re-ingest',
      timeoutMs: 12 * 60_000,
      run: async ({ quick, log }) => {
        const size = sizes(quick);
        const file = await cohortFile(Math.round(size.events / EVENTS_PER_PATIENT));
        const prepared = await ledgerRows(file, pseudonymKey);
        log(`${prepared.lines} lines, ${prepared.distinctKeys} distinct keys`);
        const bench = await createBenchDatabase('ingest');
        try {
          const ceiling: number[] = [];
          const result = await ingestWithWorkers(bench, file, 1, size.runs, true, async () => {
            ceiling.push(await ceilingLoad(bench, prepared.rows));
            if ((await ledgerCount(bench)) !== prepared.distinctKeys)
              throw new Error('bench: ceiling row count');
            log(`ceiling ${(ceiling.at(-1)! / 1000).toFixed(1)} s`);
          });
          log(
            `ingest ${result.first.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s; re-ingest ${result.again.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s`,
          );
          if (result.ledger !== prepared.distinctKeys || result.accepted !== prepared.distinctKeys) {
            throw new Error(
              `bench: ledger ${result.ledger}, accepted ${result.accepted}, distinct keys ${prepared.distinctKeys}`,
            );
          }
          const ceilingMs = median(ceiling);
          const ceilingRate = prepared.lines / (ceilingMs / 1000);
          const ingestMs = median(result.first);
          const rate = prepared.lines / (ingestMs / 1000);
          const againMs = median(result.again);
          const againRate = prepared.lines / (againMs / 1000);
          const ceilingFigure = { name: 'COPY + INSERT ON CONFLICT', medianMs: ceilingMs, rate: ceilingRate };
          const common = { module: MODULE, size: prepared.lines, unit: 'events', runs: size.runs };
          return [
            {
              ...common,
              case: `ingest --wait, 1 worker process`,
              medianMs: ingestMs,
              minMs: Math.min(...result.first),
              maxMs: Math.max(...result.first),
              rate,
              ceiling: ceilingFigure,
              ratio: rate / ceilingRate,
              goal: '>= 0.7 of ceiling',
              goalMet: rate / ceilingRate >= 0.7,
              peakRssMb: result.peakRssMb,
              notes: `${result.accepted} accepted + ${prepared.lines - prepared.distinctKeys} duplicate re-deliveries in the file; ledger = distinct keys; CLI wall time with start-up ${(median(result.cliMs) / 1000).toFixed(1)} s`,
            },
            {
              ...common,
              case: 're-ingest of the same file (all duplicates), 1 worker',
              medianMs: againMs,
              minMs: Math.min(...result.again),
              maxMs: Math.max(...result.again),
              rate: againRate,
              ceiling: ceilingFigure,
              ratio: againRate / ceilingRate,
              notes: `${result.duplicate} duplicate, ledger unchanged`,
            },
          ] satisfies ScenarioResult[];
        } finally {
          await bench.drop();
        }
      },
    },
    {
      name: 'scale-out 1, 2, 4 workers',
      fullOnly: true,
      timeoutMs: 8 * 60_000,
      run: async ({ quick, log }) => {
        const size = sizes(quick);
        const file = await cohortFile(Math.round(size.scaleEvents / EVENTS_PER_PATIENT), 11);
        const prepared = await ledgerRows(file, pseudonymKey);
        const bench = await createBenchDatabase('scale');
        const out: ScenarioResult[] = [];
        try {
          let oneWorkerRate = 0;
          for (const workers of quick ? [1, 2] : [1, 2, 4]) {
            const result = await ingestWithWorkers(bench, file, workers, 1, false);
            if (result.ledger !== prepared.distinctKeys) {
              throw new Error(
                `bench: ${workers} workers: ledger ${result.ledger} != distinct keys ${prepared.distinctKeys}`,
              );
            }
            const ms = median(result.first);
            const rate = prepared.lines / (ms / 1000);
            if (workers === 1) oneWorkerRate = rate;
            log(`${workers} workers: ${(ms / 1000).toFixed(1)} s`);
            out.push({
              module: MODULE,
              case: `scale-out, ${workers} worker process${workers > 1 ? 'es' : ''}`,
              size: prepared.lines,
              unit: 'events',
              runs: 1,
              medianMs: ms,
              minMs: ms,
              maxMs: ms,
              rate,
              ratio: rate / oneWorkerRate,
              peakRssMb: result.peakRssMb,
              notes: `ratio = speed-up over 1 worker; ledger ${result.ledger} = distinct keys (no event doubled)`,
            });
          }
          return out;
        } finally {
          await bench.drop();
        }
      },
    },
  ],
};

export default ingestBench;
