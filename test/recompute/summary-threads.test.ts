import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { analysisParameters, cycleGroupLabels } from '../../src/recompute/parameters.js';
import {
  type CountedAnalysedPatients,
  type GroupingResults,
  summarizeGroupings,
  survivalColumnsByGrouping,
} from '../../src/recompute/summarize.js';
import { SummaryThreadError, SummaryThreads } from '../../src/recompute/summary-threads.js';

const parameters = analysisParameters(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }), '2024-06-30');
const cycleLabels = cycleGroupLabels(parameters.cycleGroupBounds).map((g) => g.label);

/** Patient combinations as the recompute holds them: counted rows, deterministic (seeded). */
function combinations(rows: number, seed: number): CountedAnalysedPatients[] {
  let state = seed;
  const random = () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state / 2 ** 32;
  };
  return Array.from({ length: rows }, () => {
    const landmark = random() < 0.6;
    return {
      time_months: Math.floor(random() * 1_500) / parameters.daysPerMonth,
      event: random() < 0.7 ? 1 : 0,
      radiotherapy: random() < 0.4,
      cycle_group: cycleLabels[Math.floor(random() * cycleLabels.length)] as string,
      landmark_eligible: landmark,
      landmark_time_months: landmark ? Math.floor(random() * 1_200) / parameters.daysPerMonth : null,
      landmark_cycle_group: landmark
        ? (cycleLabels[Math.floor(random() * cycleLabels.length)] as string)
        : null,
      landmark_radiotherapy: landmark ? random() < 0.4 : null,
      patients: 1 + Math.floor(random() * 6),
    };
  });
}

async function collect(results: AsyncIterable<GroupingResults>): Promise<GroupingResults[]> {
  const all: GroupingResults[] = [];
  for await (const r of results) all.push(r);
  return all;
}

/** The results with every byte column as base64 (a deep comparison of typed arrays is slow). */
function comparable(results: GroupingResults[]) {
  return results.map((g) => ({
    ...g,
    summaries: g.summaries.map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [
          k,
          v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v,
        ]),
      ),
    ),
  }));
}

const threads = new SummaryThreads(2);
afterAll(async () => {
  await threads.close();
});

describe('statistics threads', () => {
  it('give every grouping exactly what the calling thread computes, in the same order and positions', async () => {
    for (const seed of [1, 2]) {
      const columns = survivalColumnsByGrouping(combinations(3_000, seed), parameters);
      const here = await collect(summarizeGroupings(columns, parameters));
      const onThreads = await collect(summarizeGroupings(columns, parameters, threads.analyze));
      expect(here.map((g) => g.grouping)).toEqual([
        'overall',
        'radiotherapy',
        'cycles',
        'radiotherapy_cycles',
        'cycles_landmark',
        'radiotherapy_landmark',
      ]);
      // Documents (JSON text) and curves (binary float8[] bytes) alike: byte for byte.
      expect(comparable(onThreads)).toEqual(comparable(here));
      expect(here.flatMap((g) => g.summaries.map((s) => s.position))).toEqual(
        here.flatMap((g) => g.summaries).map((_, i) => i),
      );
    }
    expect(threads.started).toBe(2);
  });

  it("fails a grouping with the thread's error, and goes on computing the next ones", async () => {
    const columns = survivalColumnsByGrouping(combinations(200, 3), parameters);
    const good = columns.get('overall');
    if (!good) throw new Error('no overall columns');
    const bad = { ...good, event: Uint8Array.from(good.event, (e, i) => (i === 5 ? 2 : e)) };
    await expect(threads.analyze(0, bad, parameters)).rejects.toThrow(
      new SummaryThreadError('statistics thread: InputError: row 6: event must be 0 or 1, got 2'),
    );
    const [rows] = await Promise.all([
      threads.analyze(0, good, parameters),
      threads.analyze(1, good, parameters),
    ]);
    expect(rows.grouping).toBe('overall');
  });

  it('fails what it holds when closed, and takes nothing after', async () => {
    const pool = new SummaryThreads(1);
    const columns = survivalColumnsByGrouping(combinations(3_000, 4), parameters).get('radiotherapy');
    if (!columns) throw new Error('no radiotherapy columns');
    // Two sent to the thread, one still queued.
    const outcomes = Promise.allSettled([1, 2, 3].map(() => pool.analyze(1, columns, parameters)));
    await pool.close();
    await pool.close();
    for (const outcome of await outcomes) {
      expect(outcome.status).toBe('rejected');
      if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(SummaryThreadError);
    }
    await expect(pool.analyze(1, columns, parameters)).rejects.toThrow('the statistics threads are closed');
    expect(pool.started).toBe(0);
  });

  it('does not keep a process alive once idle', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('../support/summary-threads-child.ts', import.meta.url))],
      { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exit = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 20_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    expect(output).toBe('computed overall on 1 thread\n');
    expect(exit).toBe(0);
  }, 30_000);
});
