/**
 * Query latency: GET /v1/summaries/latest on loopback at a fixed 1,000 requests/s (autocannon,
 * bounded duration) against one `survflow api` process, after one published run over a small
 * synthetic ledger. The figures are autocannon's latency percentiles; non-2xx answers fail the
 * bench. The API's per-key rate limit is raised for the bench (it would answer 429 after 600).
 * Beside them: the API process's CPU time per request (user + system, /proc), much less
 * sensitive than the percentiles to other work on the machine, and whether the API was serving
 * the latest run from its LISTEN/NOTIFY cache (else every request queried PostgreSQL).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import autocannon from 'autocannon';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { loadConfig } from '../src/config.js';
import { QUEUE_NAMES } from '../src/jobs/contracts.js';
import { cohortFile, copyText, ledgerRows } from './support/cohort-file.js';
import {
  createBenchDatabase,
  deletePrefix,
  peakRssMb,
  ROOT,
  runSurvflow,
  startWorkerProcesses,
  survflowArgs,
  survflowEnv,
  uniquePrefix,
  workerCount,
} from './support/services.js';
import type { ScenarioModule } from './types.js';

const pseudonymKey = loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'silent' }).pseudonymKey;
const RATE = 1_000;

/** CPU time (user + system) a live process has used so far, ms (Linux /proc); undefined elsewhere. */
function cpuMsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name: state is the 1st, utime the 12th, stime the 13th (clock ticks, 100/s).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Whether the API serves "which run is latest" from its notification-invalidated cache. */
async function latestRunListenerUp(url: string): Promise<boolean> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return /^survflow_api_latest_run_listener_up 1$/m.test(text);
}

const apiBench: ScenarioModule = {
  name: 'api',
  kind: 'scenario',
  scenarios: [
    {
      name: 'GET /v1/summaries/latest at 1,000 req/s',
      timeoutMs: 5 * 60_000,
      run: async ({ quick, log }) => {
        const seconds = quick ? 2 : 10;
        const bench = await createBenchDatabase('api');
        const prefix = uniquePrefix('api');
        const env = survflowEnv(bench.url, prefix, {
          API_RATE_LIMIT_MAX: '1000000',
          HOST: '127.0.0.1',
          PORT: String(20_000 + (process.pid % 20_000)),
        });
        try {
          // A published run over 2,000 synthetic patients (every grouping has its summaries).
          const { rows } = await ledgerRows(await cohortFile(2_000, 13), pseudonymKey);
          const client = new pg.Client({ connectionString: bench.url });
          await client.connect();
          await client.query(
            `create temporary table incoming (source text, event_id text, type text, schema_version smallint,
               patient_key text, occurred_on date, payload jsonb, content_hash text)`,
          );
          await pipeline(Readable.from(copyText(rows)), client.query(copyFrom('copy incoming from stdin')));
          await client.query(
            `insert into events (source, event_id, type, schema_version, patient_key, occurred_on, payload, content_hash, batch_id)
             select *, 'bench-load' from incoming on conflict (source, event_id) do nothing`,
          );
          await client.end();
          const workers = await startWorkerProcesses(1, env, () =>
            workerCount(QUEUE_NAMES.recompute, prefix),
          );
          try {
            await runSurvflow(['recompute', '--cutoff', '2024-06-30', '--wait', '--timeout', '300'], env);
          } finally {
            await workers.stop();
          }
          const key = (
            await runSurvflow(['sources', 'add', 'bench-reader', '--scope', 'query'], env)
          ).stdout.trim();

          const api = spawn(process.execPath, survflowArgs(['api']), {
            env,
            cwd: ROOT,
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          api.stderr?.on('data', () => {});
          const url = `http://127.0.0.1:${env.PORT}`;
          try {
            const deadline = Date.now() + 60_000;
            for (;;) {
              const ok = await fetch(`${url}/v1/summaries/latest`, { headers: { 'x-api-key': key } })
                .then((r) => r.status === 200)
                .catch(() => false);
              if (ok) break;
              if (Date.now() > deadline || api.exitCode !== null)
                throw new Error('bench: the API did not come up');
              await new Promise((r) => setTimeout(r, 250));
            }
            // Warm-up (JIT, caches), then the measured run at a fixed rate.
            await autocannon({
              url: `${url}/v1/summaries/latest`,
              headers: { 'x-api-key': key },
              duration: 2,
              connections: 10,
              overallRate: RATE,
            });
            const cpuBefore = cpuMsOf(api.pid);
            const result = await autocannon({
              url: `${url}/v1/summaries/latest`,
              headers: { 'x-api-key': key },
              duration: seconds,
              connections: 20,
              overallRate: RATE,
            });
            const cpuAfter = cpuMsOf(api.pid);
            const cpuUsPerRequest =
              cpuBefore === undefined || cpuAfter === undefined
                ? undefined
                : ((cpuAfter - cpuBefore) * 1000) / result.requests.total;
            // Asked after the measured run, so the scrape's own work does not land in it.
            const listening = await latestRunListenerUp(url);
            const non2xx = result.non2xx + result.errors + result.timeouts;
            log(
              `${result.requests.total} requests, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ${non2xx} not 2xx; ` +
                `API CPU ${cpuUsPerRequest?.toFixed(0) ?? '?'} µs/request; latest-run listener ${listening ? 'up' : 'DOWN'}`,
            );
            if (non2xx > 0) throw new Error(`bench: ${non2xx} requests failed or were not 2xx`);
            return [
              {
                module: 'api',
                case: `GET /v1/summaries/latest at ${RATE.toLocaleString('en-US')} req/s, ${seconds} s, loopback`,
                size: result.requests.total,
                unit: 'requests',
                runs: 1,
                medianMs: result.latency.p50,
                minMs: result.latency.min,
                maxMs: result.latency.max,
                p50Ms: result.latency.p50,
                p99Ms: result.latency.p99,
                goal: 'p99 <= 5 ms',
                goalMet: result.latency.p99 <= 5,
                peakRssMb: peakRssMb(api.pid),
                notes:
                  `achieved ${Math.round(result.requests.average).toLocaleString('en-US')} req/s; ${Math.round(result.throughput.average / 1024)} KB/s; ` +
                  `API CPU ${cpuUsPerRequest === undefined ? 'n/a' : `${cpuUsPerRequest.toFixed(0)} µs`}/request; ` +
                  (listening
                    ? 'latest run cached (LISTEN/NOTIFY)'
                    : 'latest-run listener DOWN: every request queried PostgreSQL'),
              },
            ];
          } finally {
            await new Promise<void>((resolve) => {
              if (api.exitCode !== null) return resolve();
              api.once('exit', () => resolve());
              api.kill('SIGTERM');
            });
          }
        } finally {
          await bench.drop();
          await deletePrefix(prefix);
        }
      },
    },
  ],
};

export default apiBench;
