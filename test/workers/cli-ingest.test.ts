import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CLI_MAIN } from '../support/cli.js';
import { ledgerSnapshot } from '../support/ingest.js';
import { waitFor } from '../support/runtime.js';
import {
  createTestDatabase,
  deleteQueuePrefix,
  type TestDatabase,
  uniqueQueuePrefix,
} from '../support/test-env.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

let testDb: TestDatabase;
let env: NodeJS.ProcessEnv;
let worker: ChildProcess | undefined;
let workerLog = '';
let tmp: string;

beforeAll(async () => {
  testDb = await createTestDatabase();
  tmp = await mkdtemp(path.join(tmpdir(), 'survflow-cli-'));
  env = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: testDb.url,
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: uniqueQueuePrefix('cli'),
  };
  // node itself (not a wrapper), so a signal reaches the worker directly.
  worker = spawn(process.execPath, [CLI_MAIN, 'worker'], {
    env,
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout?.on('data', (chunk) => {
    workerLog += chunk;
  });
  worker.stderr?.on('data', (chunk) => {
    workerLog += chunk;
  });
  await waitFor(async () => workerLog.includes('workers started'), 'the worker to start', 30_000);
});

afterAll(async () => {
  if (worker && worker.exitCode === null) worker.kill('SIGKILL');
  await testDb.close();
  await deleteQueuePrefix(env.QUEUE_PREFIX!);
  await rm(tmp, { recursive: true, force: true });
});

async function survflow(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI_MAIN, ...args], {
      env,
      cwd: root,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const count = (text: string, label: string) => Number(new RegExp(`${label}\\s+(\\d+)`).exec(text)?.[1]);

describe('survflow ingest --wait (as a process)', () => {
  it('ingests the example file and accounts for every line', async () => {
    const result = await survflow(['ingest', 'examples/sample.ndjson', '--wait', '--batch-size', '4']);
    expect(result.code, result.stderr).toBe(0);
    expect(count(result.stdout, 'submitted')).toBe(14);
    expect(count(result.stdout, 'accepted')).toBe(14);
    expect(count(result.stdout, 'duplicate')).toBe(0);
    expect(count(result.stdout, 'rejected')).toBe(0);
    expect(result.stderr).toMatch(/enqueue: 14 events in 4 batches/); // plain progress off a TTY
  }, 60_000);

  it('reports a second run as all duplicates and leaves the ledger unchanged', async () => {
    const before = await ledgerSnapshot(testDb.db);
    const result = await survflow(['ingest', 'examples/sample.ndjson', '--wait']);
    expect(result.code, result.stderr).toBe(0);
    expect(count(result.stdout, 'accepted')).toBe(0);
    expect(count(result.stdout, 'duplicate')).toBe(14);
    expect(await ledgerSnapshot(testDb.db)).toEqual(before);
  }, 60_000);

  it('accounts for malformed and conflicting lines, with reasons and file:line', async () => {
    const result = await survflow([
      'ingest',
      'examples/malformed.ndjson',
      '--wait',
      '--source',
      'oncology',
      '--batch-size',
      '5',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(count(result.stdout, 'submitted')).toBe(13);
    expect(count(result.stdout, 'accepted')).toBe(3);
    expect(count(result.stdout, 'duplicate')).toBe(2);
    expect(count(result.stdout, 'rejected')).toBe(8);
    expect(result.stdout).toMatch(/2 +\(line\): not valid JSON/);
    expect(result.stdout).toMatch(/2 +eventId: already received with different content \(conflict\)/);
    expect(result.stdout).toContain('examples/malformed.ndjson:2 event onc-2003 [conflict]');
    expect(result.stdout).toContain('examples/malformed.ndjson:13 [invalid] (line): not valid JSON');
  }, 60_000);

  it('numbers lines per file across several files and rejects other sources', async () => {
    const other = path.join(tmp, 'other.ndjson');
    await writeFile(
      other,
      '\n{"eventId":"x-1","source":"ehr","type":"followup.contact","schemaVersion":1,"patientId":"P-9","occurredOn":"2021-01-01","payload":{"vitalStatus":"alive"}}\n',
    );
    const result = await survflow([
      'ingest',
      'examples/sample.ndjson',
      other,
      '--wait',
      '--source',
      'followup',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(count(result.stdout, 'submitted')).toBe(15); // blank lines are not events
    // The five followup events of the sample are duplicates; the other ten claim other sources.
    expect(count(result.stdout, 'duplicate')).toBe(5);
    expect(count(result.stdout, 'rejected')).toBe(10);
    expect(result.stdout).toContain(`${other}:2 event x-1 [invalid] source: source mismatch`);
    expect(result.stdout).toContain(
      'examples/sample.ndjson:1 event ehr-1001 [invalid] source: source mismatch',
    );
  }, 60_000);

  it('exits 2 on a file that cannot be read', async () => {
    const result = await survflow(['ingest', path.join(tmp, 'missing.ndjson')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot read/);
  }, 60_000);

  it('never logs a patient identifier', () => {
    expect(workerLog).toMatch(/ingest batch written/);
    expect(workerLog).not.toMatch(/MRN-47/);
  });

  it('stops gracefully on SIGTERM, then --wait times out with exit 1 while no worker runs', async () => {
    const exited = new Promise<number | null>((resolve) => worker?.once('exit', (code) => resolve(code)));
    worker?.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(workerLog).toMatch(/"msg":"stopped"/);

    const result = await survflow([
      'ingest',
      'examples/sample.ndjson',
      '--wait',
      '--timeout',
      '2',
      '--no-local-worker',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/warning: no worker is running on the ingest queue/);
    expect(result.stderr).toMatch(/timed out after 2s with 1 batches not accounted/);
    expect(result.stderr).toMatch(/still queued or running: 0/);
  }, 60_000);

  it('with --wait and no worker running, processes the batches in the CLI process', async () => {
    // The batch left queued by the test above is for another submission; this one is complete
    // on its own, and the local worker drains the old one too.
    const result = await survflow(['ingest', 'examples/sample.ndjson', '--wait', '--timeout', '60']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(
      /no worker is running on the ingest queue: processing the batches in this process/,
    );
    expect(count(result.stdout, 'duplicate')).toBe(14);
  }, 90_000);
});
