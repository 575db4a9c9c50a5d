/**
 * Bounded load soak (`npm run soak`): loopback only. Starts its own database, one API process and
 * one worker process, posts batches of events at the highest rate the machine sustains (fixed
 * concurrency) for SOAK_SECONDS (default 90, at most 300) or SOAK_EVENTS events (default 200,000),
 * samples the RSS of both processes and Redis memory every 5 s, waits for the ledger to hold
 * every accepted event, and prints a verdict. Not part of CI.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { tsImport } from 'tsx/esm/api';
import { createSourceKey } from '../src/auth/api-keys.js';
import { createDatabase, siblingDatabaseUrl } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrate.js';

const root = path.resolve(import.meta.dirname, '..');
const main = path.join(root, 'src/cli/main.ts');
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const seconds = Math.min(Number(process.env.SOAK_SECONDS ?? 90), 300);
const maxEvents = Number(process.env.SOAK_EVENTS ?? 200_000);
const concurrency = Number(process.env.SOAK_CONCURRENCY ?? 4);
const perRequest = 100;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
const rssMb = (pid: number | undefined) => {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
};

const dbName = `survflow_soak_${process.pid}`;
const prefix = `{survflow-soak-${process.pid}}`;
const admin = new pg.Client({ connectionString: siblingDatabaseUrl(serverUrl, 'postgres') });
await admin.connect();
await admin.query(`create database ${dbName}`);
const dbUrl = siblingDatabaseUrl(serverUrl, dbName);
const db = createDatabase({ url: dbUrl, poolMax: 2 });
await migrateToLatest(db, (file) => tsImport(file, import.meta.url));
const key = (await createSourceKey(db, 'soak', ['ingest'])).key;
const port = await freePort();
const env = {
  ...process.env,
  NODE_ENV: 'test',
  LOG_LEVEL: 'warn',
  DATABASE_URL: dbUrl,
  REDIS_URL: redisUrl,
  QUEUE_PREFIX: prefix,
  PORT: String(port),
  HOST: '127.0.0.1',
  API_RATE_LIMIT_MAX: '1000000',
};
const children: ChildProcess[] = [];
const start = (command: string) => {
  const child = spawn(process.execPath, ['--import', 'tsx', main, command], {
    env,
    cwd: root,
    stdio: 'inherit',
  });
  children.push(child);
  return child;
};
const redis = new Redis(redisUrl);
const cleanup = async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 2_000));
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  const keys = await redis.keys(`${prefix.replace(/[{}]/g, '\\$&')}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await db.destroy();
  await admin.query(`drop database if exists ${dbName} with (force)`);
  await admin.end();
};

try {
  const api = start('api');
  const worker = start('worker');
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/healthz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (i > 120) throw new Error('the API did not start');
    await new Promise((r) => setTimeout(r, 500));
  }
  const statuses = new Map<number, number>();
  const samples: { t: number; api: number; worker: number; redisMb: number }[] = [];
  let sent = 0;
  let accepted = 0;
  const started = Date.now();
  const sample = async () => {
    const info = await redis.info('memory');
    const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN) / 2 ** 20;
    samples.push({
      t: Math.round((Date.now() - started) / 1000),
      api: rssMb(api.pid),
      worker: rssMb(worker.pid),
      redisMb: used,
    });
  };
  const timer = setInterval(() => void sample(), 5_000);
  const client = async (c: number) => {
    while (Date.now() - started < seconds * 1000 && sent < maxEvents) {
      const first = sent;
      sent += perRequest;
      const body = Array.from({ length: perRequest }, (_, i) => ({
        eventId: `soak-${c}-${first + i}`,
        source: 'soak',
        type: 'followup.contact',
        schemaVersion: 1,
        patientId: `SOAK-${(first + i) % 5000}`,
        occurredOn: '2022-01-01',
        payload: { vitalStatus: 'alive' },
      }));
      const res = await fetch(`${base}/v1/events`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 202) accepted += perRequest;
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, c) => client(c)));
  const sendSeconds = (Date.now() - started) / 1000;
  for (;;) {
    const n = Number(
      (
        await db
          .selectFrom('events')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
    if (n >= accepted || Date.now() - started > (seconds + 120) * 1000) {
      clearInterval(timer);
      await sample();
      const third = Math.max(1, Math.floor(samples.length / 3));
      const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
      const growth = (k: 'api' | 'worker') =>
        avg(samples.slice(-third).map((s) => s[k])) / avg(samples.slice(third, 2 * third).map((s) => s[k])) -
        1;
      const bad = [...statuses].filter(([s]) => s !== 202 && s !== 413 && s !== 429);
      console.log(
        JSON.stringify(
          {
            seconds: sendSeconds,
            eventsSent: sent,
            eventsPerSecond: Math.round(sent / sendSeconds),
            accepted,
            ledger: n,
            statuses: Object.fromEntries(statuses),
            samples,
          },
          null,
          1,
        ),
      );
      const verdict = {
        everyAcceptedEventInLedger: n === accepted,
        noErrorResponses: bad.length === 0,
        apiMemoryLevelsOff: growth('api') < 0.2,
        workerMemoryLevelsOff: growth('worker') < 0.2,
        redisMaxMb: Math.max(...samples.map((s) => s.redisMb)),
      };
      console.log('verdict', verdict);
      process.exitCode =
        verdict.everyAcceptedEventInLedger &&
        verdict.noErrorResponses &&
        verdict.apiMemoryLevelsOff &&
        verdict.workerMemoryLevelsOff
          ? 0
          : 1;
      break;
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
} finally {
  await cleanup();
}
