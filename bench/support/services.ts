/**
 * What the end-to-end benches share: a bench database of their own (created, migrated, dropped),
 * a queue prefix of their own, worker and CLI processes of the real `survflow` command, and the
 * peak RSS of a child process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { createDatabase, siblingDatabaseUrl } from '../../src/db/connection.js';
import type { Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { deleteQueueKeys } from '../../src/jobs/delete-queue-keys.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type BenchDatabase = { name: string; url: string; db: Kysely<Database>; drop: () => Promise<void> };

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: siblingDatabaseUrl(SERVER_URL, 'postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database `survflow_bench_<label>_<pid>`; `drop()` removes it. */
export async function createBenchDatabase(label: string): Promise<BenchDatabase> {
  const name = `survflow_bench_${label}_${process.pid}`;
  await admin(async (c) => {
    await c.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
    await c.query(`create database ${pg.escapeIdentifier(name)}`);
  });
  const url = siblingDatabaseUrl(SERVER_URL, name);
  const db = createDatabase({ url, poolMax: 4, applicationName: 'survflow-bench' });
  await migrateToLatest(db);
  return {
    name,
    url,
    db,
    drop: async () => {
      await db.destroy();
      await admin((c) => c.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`));
    },
  };
}

export function uniquePrefix(label: string): string {
  return `{survflow-bench-${label}-${randomBytes(4).toString('hex')}}`;
}

export async function deletePrefix(prefix: string): Promise<void> {
  await deleteQueueKeys(REDIS_URL, prefix);
}

export function survflowEnv(
  databaseUrl: string,
  queuePrefix: string,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: 'development',
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: queuePrefix,
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The survflow CLI: the build (`node dist/src/cli/main.js`) when it is newer than every source
 * file (it starts in a fraction of tsx's time), else the sources through tsx, so the bench
 * always measures the code of the checkout.
 */
const built = join(ROOT, 'dist/src/cli/main.js');
const useBuild =
  existsSync(built) &&
  statSync(built).mtimeMs >= Math.max(newestMtime(join(ROOT, 'src')), newestMtime(join(ROOT, 'migrations')));
export const CLI_KIND = useBuild ? 'built CLI (dist)' : 'CLI from source (tsx)';

export function survflowArgs(args: string[]): string[] {
  return useBuild ? [built, ...args] : ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args];
}

/** Peak resident set size of a live process (Linux /proc), MB; undefined elsewhere. */
export function peakRssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export type Processes = {
  children: ChildProcess[];
  peakRssMb: () => number | undefined;
  stop: () => Promise<void>;
};

/** Starts `count` `survflow worker` processes and waits until they consume the queue. */
export async function startWorkerProcesses(
  count: number,
  env: NodeJS.ProcessEnv,
  isReady: () => Promise<number>,
): Promise<Processes> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    const child = spawn(process.execPath, survflowArgs(['worker']), {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      cwd: ROOT,
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      // The development-key warning is expected in a bench; anything else is worth seeing.
      if (!/development/i.test(text)) process.stderr.write(`  worker ${i}: ${text}`);
    });
    children.push(child);
  }
  const deadline = Date.now() + 60_000;
  while ((await isReady()) < count) {
    if (Date.now() > deadline) throw new Error(`bench: ${count} workers did not start within 60 s`);
    if (children.some((c) => c.exitCode !== null)) throw new Error('bench: a worker process exited at start');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    children,
    peakRssMb: () => {
      const values = children.map((c) => peakRssMb(c.pid)).filter((v): v is number => v !== undefined);
      return values.length ? Math.max(...values) : undefined;
    },
    stop: async () => {
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

/** Runs the survflow CLI to completion; rejects on a non-zero exit. Returns stdout and wall ms. */
export async function runSurvflow(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ stdout: string; ms: number; endedAt: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, survflowArgs(args), {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const ms = performance.now() - started;
  if (code !== 0) throw new Error(`survflow ${args[0]} exited ${code}: ${stderr.slice(-2000)}`);
  return { stdout, ms, endedAt: Date.now() };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** How many worker processes consume `queue` under `prefix` (to wait until all have started). */
export async function workerCount(queue: string, prefix: string): Promise<number> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const handle = new Queue(queue, { connection, prefix });
  try {
    return await handle.getWorkersCount();
  } finally {
    await handle.close();
    connection.disconnect();
  }
}
