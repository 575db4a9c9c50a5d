/**
 * Statistics engine benchmark: 1,000,000 rows in two groups through `analyzeSurvival` (KM per
 * group and overall, median with CI, survival at 12/24/36, RMST, reverse-KM follow-up, numbers at
 * risk, log-rank, Cox). Two data shapes: follow-up in whole days converted to months (the
 * project's real data: many ties) and continuous times (every time distinct: the worst case); and
 * the whole-day data as counted rows (one row per distinct group, time and event, with its count).
 */
import {
  analyzeSurvival,
  analyzeSurvivalColumns,
  type SurvivalColumns,
  type SurvivalRow,
} from '../src/stats/index.js';
import type { BenchCase, BenchModule } from './types.js';

/** Deterministic PRNG (mulberry32), so every run measures the same rows. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function syntheticRows(n: number, resolution: 'days' | 'continuous', seed = 42): SurvivalRow[] {
  const random = prng(seed);
  const rows = new Array<SurvivalRow>(n);
  for (let i = 0; i < n; i++) {
    const treated = i % 2 === 1;
    const hazard = treated ? 1 / 24 : 1 / 16; // median OS ~17 vs ~11 months
    const death = -Math.log(1 - random()) / hazard;
    const censor = random() * 60;
    let time = Math.min(death, censor);
    if (resolution === 'days') time = Math.round(time * 30.4375) / 30.4375;
    rows[i] = { group: treated ? 'yes' : 'no', time, event: death <= censor ? 1 : 0 };
  }
  return rows;
}

function engineCase(resolution: 'days' | 'continuous', includeCurve: boolean): BenchCase {
  return {
    name: `analyzeSurvival, 2 groups, ${resolution} times${includeCurve ? ', with full curves' : ''}`,
    setup: (n) => syntheticRows(n, resolution),
    run: (rows) => {
      const result = analyzeSurvival(rows as SurvivalRow[], { includeCurve });
      if (result.groups.length !== 2) throw new Error('bench: expected two groups');
    },
  };
}

/** The same rows as columns (what a caller holding arrays would pass). */
function columnsCase(resolution: 'days' | 'continuous'): BenchCase {
  return {
    name: `analyzeSurvivalColumns, 2 groups, ${resolution} times`,
    setup: (n): SurvivalColumns => {
      const rows = syntheticRows(n, resolution);
      return {
        group: rows.map((r) => r.group),
        time: Float64Array.from(rows, (r) => r.time),
        event: Uint8Array.from(rows, (r) => r.event),
      };
    },
    run: (columns) => {
      const result = analyzeSurvivalColumns(columns as SurvivalColumns, { includeCurve: false });
      if (result.groups.length !== 2) throw new Error('bench: expected two groups');
    },
  };
}

/**
 * The same subjects as distinct (group, time, event) rows with patient counts, the shape the
 * recompute already holds (~7,000 rows for 1M subjects with whole-day times).
 */
export function countedColumns(rows: readonly SurvivalRow[]): SurvivalColumns {
  const byKey = new Map<string, { row: SurvivalRow; count: number }>();
  for (const row of rows) {
    const key = `${row.group}\u0000${row.time}\u0000${row.event}`;
    const entry = byKey.get(key);
    if (entry) entry.count++;
    else byKey.set(key, { row, count: 1 });
  }
  const entries = [...byKey.values()];
  return {
    group: entries.map((e) => e.row.group),
    time: Float64Array.from(entries, (e) => e.row.time),
    event: Uint8Array.from(entries, (e) => e.row.event),
    count: Float64Array.from(entries, (e) => e.count),
  };
}

function countedCase(): BenchCase {
  return {
    name: 'analyzeSurvivalColumns, 2 groups, 1M subjects as counted rows (days times)',
    setup: (n) => countedColumns(syntheticRows(n, 'days')),
    run: (columns) => {
      const result = analyzeSurvivalColumns(columns as SurvivalColumns, { includeCurve: false });
      if (result.groups.length !== 2) throw new Error('bench: expected two groups');
    },
  };
}

const statsBench: BenchModule = {
  name: 'stats',
  rows: { full: 1_000_000, quick: 10_000 },
  cases: [
    engineCase('days', false),
    engineCase('continuous', false),
    columnsCase('days'),
    columnsCase('continuous'),
    countedCase(),
    engineCase('days', true),
    engineCase('continuous', true),
  ],
};

export default statsBench;
