import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import type { Config } from '../../src/config.js';
import { curveFromColumns } from '../../src/db/summary-curve-columns.js';
import { createLogger } from '../../src/logger.js';
import { groupingDefinitions } from '../../src/recompute/groupings.js';
import { analysisParameters } from '../../src/recompute/parameters.js';
import { runRecompute } from '../../src/recompute/run-recompute.js';
import { insertRun } from '../../src/recompute/run-store.js';
import { analyzeSurvival } from '../../src/stats/index.js';
import type { SurvivalRow } from '../../src/stats/types.js';
import { formatSummaryCsv } from '../../src/summaries/format-csv.js';
import { formatSummaryTable } from '../../src/summaries/format-table.js';
import { loadRunSummary } from '../../src/summaries/load-run-summary.js';
import {
  insertLedgerEvents,
  type PatientSpec,
  patientEvents,
  retraction,
  syntheticCohort,
} from '../support/ledger-fixture.js';
import { createTestDatabase, type TestDatabase, testConfig } from '../support/test-env.js';

let testDb: TestDatabase;
let config: Config;
const logger = createLogger('silent');

beforeAll(async () => {
  testDb = await createTestDatabase();
  config = testConfig({ databaseUrl: testDb.url });
});
afterAll(async () => {
  await testDb?.close();
});
beforeEach(async () => {
  await sql`truncate events, ingest_submissions, ingest_batches, runs, patient_facts, patient_facts_state cascade`.execute(
    testDb.db,
  );
});

const load = (specs: PatientSpec[]) => insertLedgerEvents(testDb.db, config, specs.flatMap(patientEvents));
const recompute = (cutoff: string, options: Partial<Parameters<typeof runRecompute>[3]> = {}, cfg = config) =>
  runRecompute(testDb.db, cfg, { cutoff, trigger: 'test' }, { logger, ...options });
const latestRunId = async () =>
  (await testDb.db.selectFrom('latest_run').select('id').executeTakeFirst())?.id ?? null;

describe('recompute runs', () => {
  it('publishes exactly what the statistics engine gives on the run_patients rows', async () => {
    await load(syntheticCohort(120));
    const { runId, parameters } = await recompute('2024-06-30');

    const patients = await testDb.db
      .selectFrom('run_patients')
      .selectAll()
      .where('run_id', '=', runId)
      .where('analysable', '=', true)
      .execute();
    expect(patients).toHaveLength(120);
    const stored = await testDb.db
      .selectFrom('run_summaries')
      .selectAll()
      .where('run_id', '=', runId)
      .orderBy('position')
      .execute();
    const tests = await testDb.db.selectFrom('run_tests').selectAll().where('run_id', '=', runId).execute();

    let checkedGroups = 0;
    for (const definition of groupingDefinitions(parameters)) {
      const rows: SurvivalRow[] = [];
      for (const p of patients) {
        const placed = definition.classify(p);
        if (placed) rows.push({ group: placed.group, time: placed.time, event: p.event === 1 ? 1 : 0 });
      }
      const expected = analyzeSurvival(rows, { times: [12, 24, 36], atRiskStep: 6, confType: 'log' });
      for (const group of expected.groups) {
        const row = stored.find((s) => s.grouping === definition.grouping && s.group_label === group.group);
        const { curve, ...document } = group;
        expect(row?.summary, `${definition.grouping}/${group.group}`).toEqual(document);
        // The step curve, point by point, from its columns: the same doubles.
        expect(row && curveFromColumns(row), `${definition.grouping}/${group.group} curve`).toEqual(curve);
        expect(row?.median).toBe(group.median);
        expect(row?.n).toBe(group.n);
        checkedGroups++;
      }
      if (definition.grouping !== 'overall') {
        const test = tests.find((t) => t.grouping === definition.grouping);
        expect(test?.test).toEqual({ logRank: expected.logRank, cox: expected.cox });
      }
    }
    expect(checkedGroups).toBe(stored.length);
    expect(stored.map((s) => s.grouping)).toContain('radiotherapy_landmark');
    // Cox only where a grouping has exactly two groups.
    expect(tests.find((t) => t.grouping === 'radiotherapy')?.cox_hr).toEqual(expect.any(Number));
    expect(tests.find((t) => t.grouping === 'cycles')?.cox_hr).toBeNull();

    const document = await loadRunSummary(testDb.db);
    expect(document.run).toMatchObject({ id: runId, cutoff: '2024-06-30' });
    expect(document.run.parameters).toMatchObject({
      landmarkMonths: 9,
      cycleGroupBounds: [6, 12],
      suppressionK: 5,
    });
    expect(document.summaries.map((s) => `${s.grouping}:${s.group}`).slice(0, 6)).toEqual([
      'overall:all',
      'radiotherapy:yes',
      'radiotherapy:no',
      'cycles:1-6',
      'cycles:7-12',
      'cycles:>12',
    ]);
    expect(document.summaries[0]).toMatchObject({
      grouping: 'overall',
      group: 'all',
      n: 120,
      suppressed: false,
    });
    expect(Object.keys(document.summaries[0] ?? {})).toEqual([
      'grouping',
      'group',
      'n',
      'events',
      'censored',
      'median',
      'medianLower',
      'medianUpper',
      'survival',
      'rmst',
      'followUpMedian',
      'atRisk',
      'suppressed',
    ]);
    expect(document.attrition[0]).toEqual({ step: 'patients with events', patients: 120 });
    expect(document.tests.map((t) => t.grouping)).toEqual([
      'radiotherapy',
      'cycles',
      'radiotherapy_cycles',
      'cycles_landmark',
      'radiotherapy_landmark',
    ]);
  });

  it('a retraction changes the result of the next run, and history is kept', async () => {
    const cohort = syntheticCohort(30, 11);
    await load(cohort);
    const first = await recompute('2024-06-30');
    const dead = cohort.filter((p) => p.diedOn).slice(0, 5);
    await insertLedgerEvents(
      testDb.db,
      config,
      dead.map((p) => retraction('ehr', p.id, `${p.id}-death`, '2024-07-15')),
    );
    const second = await recompute('2024-06-30');
    const overall = async (runId: string) =>
      testDb.db
        .selectFrom('run_summaries')
        .selectAll()
        .where('run_id', '=', runId)
        .where('grouping', '=', 'overall')
        .executeTakeFirstOrThrow();
    expect((await overall(second.runId)).events).toBe((await overall(first.runId)).events - 5);
    expect(await latestRunId()).toBe(second.runId);
    const runs = await testDb.db.selectFrom('runs').select(['id', 'status']).execute();
    expect(runs).toHaveLength(2);
    expect(runs.every((r) => r.status === 'published')).toBe(true);
  });

  it('a run that throws midway publishes nothing and the previous run stays latest', async () => {
    await load(syntheticCohort(20, 3));
    const first = await recompute('2024-06-30');
    await expect(
      recompute('2024-06-30', {
        beforePublish: async () => {
          throw new Error('disk full (simulated)');
        },
      }),
    ).rejects.toThrow('disk full');
    expect(await latestRunId()).toBe(first.runId);
    const failed = await testDb.db.selectFrom('runs').selectAll().where('status', '=', 'failed').execute();
    expect(failed).toHaveLength(1);
    expect(failed[0]?.error).toContain('disk full');
    const visible = await testDb.db.selectFrom('latest_summaries').select('run_id').distinct().execute();
    expect(visible).toEqual([{ run_id: first.runId }]);
  });

  it('marks the running row of a dead process abandoned at the next run start', async () => {
    await load(syntheticCohort(10, 5));
    const parameters = analysisParameters(config, '2024-06-30');
    const stale = await insertRun(testDb.db, parameters, { trigger: 'test' }, 'dead-host:1');
    const next = await recompute('2024-06-30');
    const rows = await testDb.db.selectFrom('runs').select(['id', 'status']).orderBy('started_at').execute();
    expect(rows).toEqual([
      { id: stale.id, status: 'abandoned' },
      { id: next.runId, status: 'published' },
    ]);
  });

  it('suppresses summaries about fewer than k patients in the views and every output', async () => {
    const cohort = syntheticCohort(12, 9).map((p) => {
      const { radiotherapyOn: _rt, ...rest } = p;
      return rest;
    });
    for (const i of [0, 1]) {
      const spec: PatientSpec = {
        ...(cohort[i] as PatientSpec),
        radiotherapyOn: '2020-06-01',
        startOn: '2020-05-01',
      };
      cohort[i] = spec;
    }
    await load(cohort);
    const { runId } = await recompute('2024-06-30');

    const view = await testDb.db
      .selectFrom('latest_summaries')
      .selectAll()
      .where('grouping', '=', 'radiotherapy')
      .orderBy('position')
      .execute();
    expect(view.map((v) => [v.group_label, v.suppressed, v.n])).toEqual([
      ['yes', true, null],
      ['no', false, 10],
    ]);
    expect(view[0]).toMatchObject({ median: null, events: null, summary: null });
    // The unmasked figures stay in the run tables for analysts with access to them.
    const raw = await testDb.db
      .selectFrom('run_summaries')
      .select('n')
      .where('run_id', '=', runId)
      .where('grouping', '=', 'radiotherapy')
      .where('group_label', '=', 'yes')
      .executeTakeFirstOrThrow();
    expect(raw.n).toBe(2);

    const document = await loadRunSummary(testDb.db, runId);
    const yes = document.summaries.find((s) => s.grouping === 'radiotherapy' && s.group === 'yes');
    expect(yes).toEqual({
      grouping: 'radiotherapy',
      group: 'yes',
      n: null,
      events: null,
      censored: null,
      median: null,
      medianLower: null,
      medianUpper: null,
      survival: null,
      rmst: null,
      followUpMedian: null,
      atRisk: null,
      suppressed: true,
    });
    const table = formatSummaryTable(document);
    expect(table).toMatch(/radiotherapy\s+yes\s+<5\*/);
    expect(table).toContain('fewer than k = 5 patients');
    const csv = formatSummaryCsv(document).split('\r\n');
    const header = csv[0]?.split(',') ?? [];
    const yesRow = csv.find((line) => line.includes(',radiotherapy,yes,'))?.split(',') ?? [];
    expect(yesRow[header.indexOf('suppressed')]).toBe('true');
    expect(yesRow[header.indexOf('n')]).toBe('');
    expect(yesRow[header.indexOf('median')]).toBe('');

    // k = 0 masks nothing.
    const open = testConfig({ databaseUrl: testDb.url, env: { SUPPRESSION_K: '0' } });
    const second = await recompute('2024-06-30', {}, open);
    const unmasked = await loadRunSummary(testDb.db, second.runId);
    expect(unmasked.summaries.every((s) => !s.suppressed)).toBe(true);
  });

  it('a run at a past cutoff uses only earlier facts', async () => {
    await load(syntheticCohort(40, 21));
    const past = await recompute('2021-03-31');
    const now = await recompute('2024-06-30');
    const events = async (runId: string) =>
      (
        await testDb.db
          .selectFrom('run_patients')
          .select(['patient_key', 'exit_on'])
          .where('run_id', '=', runId)
          .where('analysable', '=', true)
          .execute()
      ).map((r) => r.exit_on as string);
    const pastExits = await events(past.runId);
    expect(pastExits.length).toBeGreaterThan(0);
    expect(pastExits.every((d) => d <= '2021-03-31')).toBe(true);
    expect((await events(now.runId)).some((d) => d > '2021-03-31')).toBe(true);
  });
});

describe('a recompute whose process is killed', () => {
  it('publishes nothing, releases the lock, and is marked abandoned by the next run', async () => {
    await sql`truncate events, ingest_submissions, ingest_batches, runs, patient_facts, patient_facts_state cascade`.execute(
      testDb.db,
    );
    await load(syntheticCohort(15, 8));
    const previous = await recompute('2024-06-30');

    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    // node itself (not the tsx wrapper, which forks): SIGKILL must hit the process holding the
    // database connections, as a crash or an OOM kill would.
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('../support/recompute-child.ts', import.meta.url)),
        '2024-06-30',
      ],
      {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        env: { ...process.env, DATABASE_URL: testDb.url, LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    // Whatever happens below, the child never outlives the test.
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready-to-publish')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    // The killed run wrote all its summaries but was never published.
    const killed = await testDb.db
      .selectFrom('runs')
      .select(['id', 'status'])
      .where('id', '<>', previous.runId)
      .executeTakeFirstOrThrow();
    expect(killed.status).toBe('running');
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    expect(await latestRunId()).toBe(previous.runId);
    const visible = await testDb.db.selectFrom('latest_summaries').select('run_id').distinct().execute();
    expect(visible).toEqual([{ run_id: previous.runId }]);

    // The lock died with the process: the next run starts at once and retires the dead one.
    const next = await recompute('2024-06-30');
    const statuses = await testDb.db.selectFrom('runs').select(['id', 'status']).execute();
    expect(new Map(statuses.map((r) => [r.id, r.status]))).toEqual(
      new Map([
        [previous.runId, 'published'],
        [killed.id, 'abandoned'],
        [next.runId, 'published'],
      ]),
    );
    expect(await latestRunId()).toBe(next.runId);
  }, 60_000);
});
