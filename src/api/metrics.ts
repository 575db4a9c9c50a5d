import { sql } from 'kysely';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { QUEUE_NAMES } from '../jobs/contracts.js';
import type { ApiDeps } from './deps.js';
import type { LatestRunTracker } from './latest-run.js';

/**
 * Prometheus metrics of the API process. The ledger-wide figures (events accepted / duplicate /
 * rejected, queue depth, job durations, age of the latest published run) are read at scrape
 * time from PostgreSQL and Redis, so they are the same whichever API replica is scraped and
 * whichever worker process did the work. A registry per server keeps tests independent.
 */
export type ApiMetrics = {
  registry: Registry;
  intakeItems: Counter<'channel' | 'outcome'>;
};

const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const;
const RECENT_JOBS = 200;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const position = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[position] ?? 0;
}

export function createApiMetrics(deps: ApiDeps, latestRun: LatestRunTracker): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'survflow_api_' });

  const intakeItems = new Counter({
    name: 'survflow_api_intake_items_total',
    help: 'Items received by this API process, by channel and edge outcome (enqueued / rejected_at_edge)',
    labelNames: ['channel', 'outcome'] as const,
    registers: [registry],
  });

  new Counter({
    name: 'survflow_events_total',
    help: 'Submitted events accounted by the ingest workers (whole ledger), by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
    async collect() {
      const row = await deps.db
        .selectFrom('ingest_batches')
        .select([
          sql<string>`coalesce(sum(accepted), 0)`.as('accepted'),
          sql<string>`coalesce(sum(duplicate), 0)`.as('duplicate'),
          sql<string>`coalesce(sum(rejected), 0)`.as('rejected'),
        ])
        .executeTakeFirstOrThrow();
      this.reset();
      for (const outcome of ['accepted', 'duplicate', 'rejected'] as const) {
        this.inc({ outcome }, Number(row[outcome]));
      }
    },
  });

  const queues = [
    { name: QUEUE_NAMES.ingest, queue: deps.ingestQueue },
    { name: QUEUE_NAMES.recompute, queue: deps.recomputeQueue },
  ];

  new Gauge({
    name: 'survflow_queue_jobs',
    help: 'Jobs in each BullMQ queue, by state (waiting = queue depth)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      for (const { name, queue } of queues) {
        const counts = await queue.getJobCounts(...JOB_STATES);
        for (const state of JOB_STATES) this.set({ queue: name, state }, counts[state] ?? 0);
      }
    },
  });

  new Gauge({
    name: 'survflow_job_duration_seconds',
    help: `Processing time of the most recent ${RECENT_JOBS} completed jobs per queue (quantile 0.5, 0.95, 1 = max)`,
    labelNames: ['queue', 'quantile'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const { name, queue } of queues) {
        const jobs = await queue.getJobs(['completed'], 0, RECENT_JOBS - 1);
        const seconds = jobs
          .filter((j) => j.processedOn !== undefined && j.finishedOn !== undefined)
          .map((j) => ((j.finishedOn ?? 0) - (j.processedOn ?? 0)) / 1000)
          .sort((a, b) => a - b);
        if (seconds.length === 0) continue;
        for (const q of [0.5, 0.95, 1]) this.set({ queue: name, quantile: String(q) }, quantile(seconds, q));
      }
    },
  });

  new Gauge({
    name: 'survflow_last_published_run_age_seconds',
    help: 'Seconds since the latest published recompute run was published (absent before the first run)',
    registers: [registry],
    async collect() {
      this.reset();
      const row = await deps.db.selectFrom('latest_run').select('published_at').executeTakeFirst();
      if (row?.published_at) this.set((Date.now() - new Date(row.published_at).getTime()) / 1000);
    },
  });

  new Gauge({
    name: 'survflow_api_latest_run_listener_up',
    help: 'Whether this API process LISTENs for run publications (1) and so caches the latest run, or reads it per request (0)',
    registers: [registry],
    collect() {
      this.set(latestRun.state.listening ? 1 : 0);
    },
  });

  return { registry, intakeItems };
}
