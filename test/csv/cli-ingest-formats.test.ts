import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { IntakeAnswer } from '../../src/api/intake.js';
import { patientHistoryBundle } from '../fhir/fixtures.js';
import { startTestApi, type TestApi, waitForBatch } from '../support/api.js';
import { CLI_MAIN } from '../support/cli.js';

const run = promisify(execFile);

describe('CSV and FHIR intake through `survflow ingest` and HTTP text/csv', () => {
  let api: TestApi;
  let dir: string;

  beforeAll(async () => {
    api = await startTestApi();
    await api.startIngestWorker();
    dir = await mkdtemp(join(tmpdir(), 'survflow-csv-'));
  });
  afterAll(async () => {
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const survflow = (args: string[]) =>
    run(process.execPath, [CLI_MAIN, ...args], {
      env: {
        ...process.env,
        DATABASE_URL: api.database.url,
        REDIS_URL: inject('redisUrl'),
        QUEUE_PREFIX: api.config.queuePrefix,
        LOG_LEVEL: 'silent',
      },
    }).catch((error: { stdout: string; stderr: string; code: number }) => error);

  // Each test starts the CLI as a process (one to two seconds of TypeScript loading, more on a
  // busy machine).
  it('ingests a CSV file with --wait and prints the account with file:line for bad rows', {
    timeout: 90_000,
  }, async () => {
    const file = join(dir, 'cycles.csv');
    await writeFile(
      file,
      [
        'type,eventId,patientId,occurredOn,line,cycleNumber,agent',
        'immunotherapy.cycle,csv-c1,MRN-9,2020-02-01,1,1,toripalimab',
        'immunotherapy.cycle,csv-c2,MRN-9,2020-02-22,1,x,toripalimab',
        'immunotherapy.cycle,csv-c3,MRN-9,2020-03-14,1,3,toripalimab',
      ].join('\n'),
    );
    const result = await survflow(['ingest', '--format', 'csv', '--source', 'registry', '--wait', file]);
    expect(result.stdout).toMatch(/accepted\s+2/);
    expect(result.stdout).toMatch(/rejected\s+1/);
    expect(result.stdout).toContain(`${file}:3`);
    expect(result.stdout).toContain('expected an integer, found "x"');
  });

  it('ingests a FHIR bundle file with --format fhir', { timeout: 180_000 }, async () => {
    const file = join(dir, 'bundle.json');
    await writeFile(file, JSON.stringify(patientHistoryBundle(), null, 2));
    const noSource = await survflow(['ingest', '--format', 'fhir', file]);
    expect((noSource as { code?: number }).code).toBe(2);
    const result = await survflow(['ingest', '--format', 'fhir', '--source', 'ehr', '--wait', file]);
    expect(result.stdout).toMatch(/accepted\s+8/);
    const ids = await api.deps.db
      .selectFrom('events')
      .select('event_id')
      .where('source', '=', 'ehr')
      .execute();
    expect(ids).toHaveLength(8);
  });

  it('accepts text/csv on POST /v1/events', async () => {
    const key = await api.key('coordinator', ['ingest']);
    const body = [
      'type,eventId,patientId,occurredOn,vitalStatus',
      'followup.contact,f1,MRN-9,2021-01-01,alive',
      'followup.contact,f2,MRN-9,2021-02-01,dead',
    ].join('\r\n');
    const response = await fetch(`${api.url}/v1/events`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'text/csv', authorization: `Bearer ${key}` },
    });
    const answer = (await response.json()) as IntakeAnswer;
    expect(answer).toMatchObject({ received: 2, enqueued: 1, rejectedAtEdge: 1 });
    expect(answer.rejections[0]).toMatchObject({ line: 3 });
    expect(await waitForBatch(api, key, answer.batchId)).toMatchObject({ accepted: 1, rejected: 1 });
  });
});
