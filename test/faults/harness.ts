import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { siblingDatabaseUrl } from '../../src/db/connection.js';
import type { Database } from '../../src/db/database.js';
import { getSubmissionAccount, type SubmissionAccount } from '../../src/ingest/submission.js';
import { waitFor } from '../support/runtime.js';

/**
 * Shared pieces of the fault suite: worker processes started and killed for real, the CLI as
 * a process, a producer with a known set of events, and the exactly-once check.
 */

const execFileAsync = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');

/** Recovery settings short enough for a test: a killed worker's jobs come back within ~5 s. */
export const FAST_RECOVERY_ENV = {
  WORKER_LOCK_DURATION_MS: '3000',
  WORKER_STALLED_INTERVAL_MS: '1000',
  WORKER_MAX_STALLED_COUNT: '5',
} as const;

export type WorkerProcess = {
  proc: ChildProcess;
  pid: number;
  log: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends SIGKILL if still running (cleanup). */
  kill: () => void;
};

/** `survflow worker` as a real process (node + tsx loader, so signals reach it directly). */
export async function startWorker(env: NodeJS.ProcessEnv, label = 'worker'): Promise<WorkerProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, 'worker'], {
    env,
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout?.on('data', (chunk) => {
    log += chunk;
  });
  proc.stderr?.on('data', (chunk) => {
    log += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`${label} exited at start-up:\n${log}`);
      return log.includes('workers started');
    },
    `${label} to start`,
    60_000,
  );
  return {
    proc,
    pid: proc.pid ?? -1,
    log: () => log,
    exited,
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

export type CliResult = { code: number; stdout: string; stderr: string };

/** Runs `survflow ARGS` as a process. */
export async function survflow(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 120_000,
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      env,
      cwd: ROOT,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

export type ProducerSet = {
  lines: string[];
  /** Event ids that must end up in the ledger, each exactly once. */
  expectedIds: Set<string>;
  expected: { accepted: number; duplicate: number; rejected: number };
  /** The raw patient ids used (for log scans). */
  patientIds: string[];
};

/**
 * A known set of events from one source: `count` lines, of which every 37th is an exact
 * re-send of an earlier line (a duplicate) and every 53rd is not JSON (rejected).
 */
export function producerSet(count: number, source: string, idPrefix = 'ev'): ProducerSet {
  const lines: string[] = [];
  const expectedIds = new Set<string>();
  const patientIds: string[] = [];
  let accepted = 0;
  let duplicate = 0;
  let rejected = 0;
  for (let i = 0; i < count; i++) {
    if (i > 0 && i % 53 === 0) {
      lines.push(`{"eventId":"broken-${i}", not json`);
      rejected++;
    } else if (i > 0 && i % 37 === 0) {
      const earlier = lines.find((l) => l.startsWith('{"eventId":"') && !l.includes('not json'));
      lines.push(earlier ?? '');
      duplicate++;
    } else {
      const eventId = `${idPrefix}-${i}`;
      const patientId = `FAULTMRN${String(i % 400).padStart(5, '0')}`;
      if (!patientIds.includes(patientId)) patientIds.push(patientId);
      lines.push(
        JSON.stringify({
          eventId,
          source,
          type: 'immunotherapy.cycle',
          schemaVersion: 1,
          patientId,
          occurredOn: `2021-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`,
          payload: { line: 1, cycleNumber: (i % 30) + 1, agent: 'camrelizumab' },
        }),
      );
      expectedIds.add(eventId);
      accepted++;
    }
  }
  return { lines, expectedIds, expected: { accepted, duplicate, rejected }, patientIds };
}

export async function writeLines(file: string, lines: string[]): Promise<void> {
  await writeFile(file, `${lines.join('\n')}\n`);
}

/** The submission id printed by `survflow ingest` ("submission ID: enqueued ..."). */
export function submissionIdOf(stdout: string): string {
  const match = /^submission (\S+?):? /m.exec(stdout);
  if (!match?.[1]) throw new Error(`no submission id in:\n${stdout}`);
  return match[1];
}

export async function accountedBatches(db: Kysely<Database>, submissionId: string): Promise<number> {
  const row = await db
    .selectFrom('ingest_batches')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('submission_id', '=', submissionId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function waitForComplete(
  db: Kysely<Database>,
  submissionId: string,
  timeoutMs: number,
): Promise<SubmissionAccount> {
  return waitFor(
    async () => {
      const account = await getSubmissionAccount(db, submissionId).catch(() => undefined);
      return account?.complete ? account : undefined;
    },
    `submission ${submissionId} to be complete`,
    timeoutMs,
  );
}

/**
 * The exactly-once check: the account adds up to what was sent, and the ledger of `source`
 * holds every expected event id exactly once and nothing else.
 */
export async function ledgerCheck(
  db: Kysely<Database>,
  source: string,
  set: ProducerSet,
  account: SubmissionAccount,
) {
  const rows = await db.selectFrom('events').select('event_id').where('source', '=', source).execute();
  const ids = rows.map((r) => r.event_id);
  const rejectedRows = await sql<{ n: number }>`
    select count(*)::int as n from rejected_events re
    join ingest_batches b on b.id = re.batch_id where b.submission_id = ${account.submissionId}`.execute(db);
  return {
    sent: set.lines.length,
    submitted: account.submitted,
    sum: account.accepted + account.duplicate + account.rejected,
    accepted: account.accepted,
    duplicate: account.duplicate,
    rejected: account.rejected,
    rejectedRows: rejectedRows.rows[0]?.n,
    ledgerRows: ids.length,
    distinctLedgerIds: new Set(ids).size,
    missing: [...set.expectedIds].filter((id) => !ids.includes(id)).length,
    unexpected: ids.filter((id) => !set.expectedIds.has(id)).length,
  };
}

/** What ledgerCheck must return for a set sent once and fully accounted. */
export function exactlyOnce(set: ProducerSet) {
  return {
    sent: set.lines.length,
    submitted: set.lines.length,
    sum: set.lines.length,
    ...set.expected,
    rejectedRows: set.expected.rejected,
    ledgerRows: set.expectedIds.size,
    distinctLedgerIds: set.expectedIds.size,
    missing: 0,
    unexpected: 0,
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

/**
 * Makes ONE database refuse connections and drops its sessions (the shared server keeps
 * running for everyone else); returns a function that lets connections in again.
 */
export async function blockDatabase(serverUrl: string, name: string): Promise<() => Promise<void>> {
  const admin = new pg.Client({ connectionString: siblingDatabaseUrl(serverUrl, 'postgres') });
  await admin.connect();
  await admin.query(`alter database ${pg.escapeIdentifier(name)} allow_connections false`);
  await admin.query(
    'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
    [name],
  );
  return async () => {
    await admin.query(`alter database ${pg.escapeIdentifier(name)} allow_connections true`);
    await admin.end();
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
