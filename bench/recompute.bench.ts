/**
 * Recompute: time to a published run (`survflow recompute --wait` served by one `survflow worker`
 * process) over a ledger of synthetic patients, beside the floor measured in the same run on the
 * same database: one sequential scan of the ledger (`select count(*) from events`, index scans
 * disabled so that it is one). The full runs' notes also give a bare pass over the ledger by
 * patient, the floor of any derivation from the events (see perPatientPassMs).
 *
 * Per cohort size: the first full run (every patient derived and written; each time after
 * removing the facts and analyzing the emptied tables), a `--full` run with nothing changed
 * (every patient derived again, no version written), the nightly run after a day's worth of new
 * events for 1% of the patients with the cutoff moved one day (incremental: only touched
 * patients are derived again), and a run with nothing new.
 *
 * The ledger is loaded by COPY (not through the queue) so the setup stays bounded; then VACUUM
 * ANALYZE, as autovacuum would after a backfill. The 1M-patient ledger is the 100k one plus nine
 * copies made in SQL under new patient keys and event ids (generating and pseudonymizing 17M
 * events in Node would take longer than the bench itself); the derivation's work is the same.
 */
import { sql, type Transaction } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import type { Database } from '../src/db/database.js';
import { QUEUE_NAMES } from '../src/jobs/contracts.js';
import { patientKeyRange } from '../src/recompute/derive-cohort.js';
import { cohortFile, ledgerRows } from './support/cohort-file.js';
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

const MODULE = 'recompute';
const CUTOFF = '2024-06-30';
/** The synthetic cohort's data end at CUTOFF; nightly runs move the cutoff into the days after. */
const NEXT_DAYS = ['2024-07-01', '2024-07-02', '2024-07-03'];
const pseudonymKey = loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'silent' }).pseudonymKey;

async function loadLedger(bench: BenchDatabase, file: string): Promise<number> {
  const { rows } = await ledgerRows(file, pseudonymKey);
  const client = new pg.Client({ connectionString: bench.url });
  await client.connect();
  try {
    const inserted = await copyIntoLedger(client, rows, 'bench-load');
    await client.query('vacuum analyze events');
    return inserted;
  } finally {
    await client.end();
  }
}

/** Median of three timings of `query` on the bench database (after one warm-up). */
async function medianOfThree(bench: BenchDatabase, query: (trx: Transaction<Database>) => Promise<unknown>) {
  return medianOfThreeTimings(() => bench.db.transaction().execute(query));
}

/** Median of three timings of `work` (after one warm-up). */
async function medianOfThreeTimings(work: () => Promise<unknown>) {
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const started = performance.now();
    await work();
    if (i > 0) times.push(performance.now() - started);
  }
  return median(times);
}

/**
 * The floor: one sequential scan of the ledger, `select count(*) from events` with index scans
 * disabled for that transaction. Left to itself PostgreSQL answers `count(*)` from the smallest
 * index and the visibility map (`events_fact_on_idx`, ~2% of the heap) without reading a single
 * event, which is not a scan of the ledger; that figure is reported in the notes beside it.
 */
function sequentialScanMs(bench: BenchDatabase) {
  return medianOfThree(bench, async (trx) => {
    await sql`set local enable_indexonlyscan = off`.execute(trx);
    await sql`set local enable_indexscan = off`.execute(trx);
    await sql`set local enable_bitmapscan = off`.execute(trx);
    await sql`select count(*) from events`.execute(trx);
  });
}

/**
 * The floor of any derivation from the events: one pass over the ledger by patient that does
 * nothing but count each patient's events, read as a full derivation reads them (in the order
 * of events_patient_derivation_idx, in as many key-range shares at once as the bench's worker
 * derives in: RECOMPUTE_DERIVE_PARTITIONS). A full run cannot be faster than this pass plus
 * its own work per event (the window and aggregates of the derivation) and per patient (the
 * rows it writes, the statistics), which is why the README reads the full run against it.
 */
async function perPatientPassMs(bench: BenchDatabase, shares: number) {
  return medianOfThreeTimings(() =>
    Promise.all(
      Array.from({ length: shares }, (_, share) =>
        bench.db.transaction().execute(async (trx) => {
          // As a full derivation runs: its INSERT ... SELECT has no parallel plan in PostgreSQL 15,
          // and random_page_cost as prepareDerivation sets it for a key range.
          await sql`set local random_page_cost = 1.1`.execute(trx);
          await sql`set local max_parallel_workers_per_gather = 0`.execute(trx);
          await sql`
            select count(*) from (
              select e.patient_key collate "C", count(*) from events e
              where e.fact_on <= ${CUTOFF}::date ${patientKeyRange(share, shares)}
              group by 1) per_patient`.execute(trx);
        }),
      ),
    ),
  );
}

/** `select count(*) from events` as the planner runs it (an index-only scan). */
function countMs(bench: BenchDatabase) {
  return medianOfThree(bench, (trx) => sql`select count(*) from events`.execute(trx));
}

/** Started -> published of the newest run, from the runs table (the worker's own clock marks). */
async function lastRun(bench: BenchDatabase) {
  const { rows } = await sql<{
    ms: number;
    status: string;
    analysed: number | null;
    mode: string | null;
    rederived: number | null;
    written: number;
    reused: boolean;
  }>`
    select (extract(epoch from coalesce(published_at, finished_at) - started_at) * 1000)::float8 as ms,
           status, patients_analysed as analysed, facts_mode as mode, patients_rederived as rederived,
           (select count(*) from patient_facts f where f.valid_from = runs.run_no)::int as written,
           results_reused_from is not null as reused
    from runs order by run_no desc limit 1`.execute(bench.db);
  return rows[0]!;
}

/**
 * Removes every patient fact version and the facts state, so that the next run derives and
 * writes every patient as a first run does (the ledger and the runs stay), and analyzes the
 * emptied tables, as an ANALYZE or VACUUM of a new database (or autovacuum) leaves them before a
 * first run: the planner then knows `patient_facts` empty. A truncated table that was never
 * analyzed is planned as ten pages instead, which hid a first-run plan quadratic in the
 * patients (see moveStagedStatement in src/recompute/patient-facts.ts).
 */
async function forgetPatientFacts(bench: BenchDatabase): Promise<void> {
  await sql`truncate patient_facts, patient_facts_state, patient_fact_combinations, patient_facts_rebuild`.execute(
    bench.db,
  );
  await sql`analyze patient_facts, patient_facts_state, patient_fact_combinations, patient_facts_rebuild`.execute(
    bench.db,
  );
}

/** Nine more copies of every loaded patient, under new patient keys and event ids (SQL). */
async function replicateLedger(bench: BenchDatabase, copies: number): Promise<void> {
  await sql`
    insert into events (source, event_id, type, schema_version, patient_key, occurred_on, payload, content_hash, batch_id)
    select source, event_id || '~' || r, type, schema_version,
      md5(patient_key || r) || md5(r || patient_key), occurred_on,
      case when type = 'event.retracted'
        then jsonb_set(payload, '{targetEventId}', to_jsonb((payload->>'targetEventId') || '~' || r))
        else payload end,
      content_hash, 'bench-replica'
    from events, generate_series(1, ${copies}::int) r
    where batch_id = 'bench-load'`.execute(bench.db);
  await sql`vacuum analyze events`.execute(bench.db);
}

/**
 * A day's worth of new events for `share` of the patients, dated `day`: a follow-up contact for
 * most, a death for about a quarter (written as the worker would: contract payloads, one batch).
 */
async function addDay(bench: BenchDatabase, day: string, share: number): Promise<number> {
  const result = await sql`
    with chosen as (
      select patient_key from (select distinct patient_key from events) p
      where ('x' || substr(md5(patient_key || ${day}), 1, 8))::bit(32)::int::bigint & 1048575
        < ${Math.round(share * 1_048_576)}
    )
    insert into events (source, event_id, type, schema_version, patient_key, occurred_on, payload, content_hash, batch_id)
    select 'bench-day', ${day} || '-' || patient_key,
      case when ('x' || substr(md5(patient_key), 1, 2))::bit(8)::int < 64 then 'death.recorded' else 'followup.contact' end,
      1, patient_key, ${day}::date,
      case when ('x' || substr(md5(patient_key), 1, 2))::bit(8)::int < 64
        then jsonb_build_object('diedOn', ${day}::text)
        else jsonb_build_object('vitalStatus', 'alive') end,
      md5(${day} || patient_key), 'bench-day-' || ${day}
    from chosen`.execute(bench.db);
  return Number(result.numAffectedRows ?? 0);
}

/** The patients of the quick (CI smoke) run's cohort. */
const QUICK_PATIENTS = 2_000;

type CohortCase = { patients: number; replicate: number; fullRuns: number; fullOnly: boolean };

function cohortScenario({ patients, replicate, fullRuns, fullOnly }: CohortCase) {
  return {
    // The name is fixed before `--quick` is known, so it says what the quick run loads instead.
    name: `full and nightly runs, ${patients.toLocaleString('en-US')} patients${fullOnly ? '' : ` (${QUICK_PATIENTS.toLocaleString('en-US')} with --quick)`}`,
    timeoutMs: (replicate > 1 ? 60 : 15) * 60_000,
    fullOnly,
    run: async ({
      quick,
      log,
    }: {
      quick: boolean;
      log: (line: string) => void;
    }): Promise<ScenarioResult[]> => {
      const loaded = quick ? QUICK_PATIENTS : patients / replicate;
      const total = loaded * (quick ? 1 : replicate);
      const file = await cohortFile(loaded, 13);
      const bench = await createBenchDatabase('recompute');
      const prefix = uniquePrefix('recompute');
      try {
        let events = await loadLedger(bench, file);
        if (!quick && replicate > 1) {
          log(`ledger: replicating ${events} events x${replicate}`);
          await replicateLedger(bench, replicate - 1);
          events *= replicate;
        }
        log(`ledger: ${events} events for ${total} patients`);
        const floor = await sequentialScanMs(bench);
        const planned = await countMs(bench);
        const env = survflowEnv(bench.url, prefix);
        // In as many shares as the worker started with this environment derives in.
        const shares = loadConfig(env).recompute.derivePartitions;
        const perPatient = await perPatientPassMs(bench, shares);
        const workers = await startWorkerProcesses(1, env, () => workerCount(QUEUE_NAMES.recompute, prefix));
        const full: number[] = [];
        const rebuilt: number[] = [];
        const nightly: number[] = [];
        const unchanged: number[] = [];
        const copied: boolean[] = [];
        const rederived: number[] = [];
        const added: number[] = [];
        let analysed = 0;
        let rss: number | undefined;
        const recompute = async (cutoff: string, extra: string[] = []) => {
          await runSurvflow(['recompute', '--cutoff', cutoff, '--wait', '--timeout', '3000', ...extra], env);
          const row = await lastRun(bench);
          if (row.status !== 'published') throw new Error(`bench: run ended ${row.status}`);
          analysed = row.analysed ?? 0;
          return row;
        };
        try {
          // The first run derives and writes every patient. Each time, on the same ledger, the
          // facts are removed first and the emptied tables analyzed (see forgetPatientFacts).
          for (let i = 0; i < (quick ? 1 : fullRuns); i++) {
            await forgetPatientFacts(bench);
            const row = await recompute(CUTOFF);
            if (row.mode !== 'full') throw new Error(`bench: expected a full run, got ${row.mode}`);
            full.push(row.ms);
            log(`first full run ${i + 1}: ${(row.ms / 1000).toFixed(1)} s`);
          }
          // `--full` derives every patient again; with nothing changed it writes no version.
          for (let i = 0; i < (quick ? 1 : fullRuns); i++) {
            const row = await recompute(CUTOFF, ['--full']);
            if (row.mode !== 'full') throw new Error(`bench: expected a full run, got ${row.mode}`);
            if (row.written !== 0)
              throw new Error(`bench: --full wrote ${row.written} versions, expected none`);
            rebuilt.push(row.ms);
            log(`--full run ${i + 1}: ${(row.ms / 1000).toFixed(1)} s`);
          }
          for (const day of quick ? NEXT_DAYS.slice(0, 1) : NEXT_DAYS) {
            added.push(await addDay(bench, day, 0.01));
            const row = await recompute(day);
            if (row.mode !== 'incremental')
              throw new Error(`bench: expected an incremental run, got ${row.mode}`);
            nightly.push(row.ms);
            rederived.push(row.rederived ?? 0);
            log(
              `nightly run ${day}: ${(row.ms / 1000).toFixed(2)} s, ${row.rederived} patients derived again`,
            );
            const same = await recompute(day);
            unchanged.push(same.ms);
            copied.push(same.reused);
          }
        } finally {
          rss = workers.peakRssMb();
          await workers.stop();
        }
        const size = `${total.toLocaleString('en-US')} patients`;
        const ceiling = { name: 'sequential scan, select count(*) from events', medianMs: floor };
        const plannedNote = `; count(*) as planned (index-only scan): ${(planned / 1000).toFixed(2)} s`;
        const perPatientNote = `; a bare pass by patient (a count per patient, in the derivation index's order, ${shares} shares at once): ${(perPatient / 1000).toFixed(2)} s, ${(perPatient / floor).toFixed(2)}x the scan`;
        const goal = '<= 2x scan, worker RSS <= 512 MB';
        const row = (name: string, times: number[], notes: string): ScenarioResult => ({
          module: MODULE,
          case: `${name}, ${size}`,
          size: events,
          unit: 'events',
          runs: times.length,
          medianMs: median(times),
          minMs: Math.min(...times),
          maxMs: Math.max(...times),
          ceiling,
          ratio: median(times) / floor,
          goal,
          goalMet: median(times) / floor <= 2 && (rss ?? 0) <= 512,
          peakRssMb: rss,
          notes,
        });
        return [
          row(
            'first full run (every patient derived and written)',
            full,
            `${analysed} patients analysed; run started -> published (runs table); each after removing the facts and analyzing the emptied tables${plannedNote}${perPatientNote}`,
          ),
          row(
            'full run asked with --full, nothing changed (every patient derived, none written)',
            rebuilt,
            `every patient derived again, every row came out as it was, so no version was closed or written; run started -> published${plannedNote}${perPatientNote}`,
          ),
          row(
            'nightly run, 1% of patients with new events, cutoff +1 day',
            nightly,
            `${median(added)} new events; ${median(rederived)} patients derived again (new events or facts on the new day); ${(median(full) / median(nightly)).toFixed(1)}x faster than the first full run${plannedNote}`,
          ),
          row(
            'run with nothing new (same cutoff)',
            unchanged,
            `no patient derived again; ${
              copied.every(Boolean)
                ? 'results copied from the previous run (identical inputs)'
                : `results computed again in ${copied.filter((c) => !c).length} of ${copied.length} runs`
            }; published${plannedNote}`,
          ),
        ];
      } finally {
        await bench.drop();
        await deletePrefix(prefix);
      }
    },
  };
}

const recomputeBench: ScenarioModule = {
  name: MODULE,
  kind: 'scenario',
  scenarios: [
    cohortScenario({ patients: 100_000, replicate: 1, fullRuns: 3, fullOnly: false }),
    cohortScenario({ patients: 1_000_000, replicate: 10, fullRuns: 3, fullOnly: true }),
  ],
};

export default recomputeBench;
