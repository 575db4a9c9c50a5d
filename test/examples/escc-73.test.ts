import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DATA_CUTOFF, generateEscc73 } from '../../examples/generate-escc-73.js';
import { eventSchema, type SurvEvent } from '../../src/contract/events.js';
import { analyzeSurvival } from '../../src/stats/index.js';

/**
 * The synthetic example cohort (examples/escc-73.ndjson): every line is a valid contract-v1
 * event, the committed file is exactly what the generator writes, and SPEC section 3 applied to
 * the events at the example's cutoff reproduces the paper's five median OS figures.
 *
 * The derivation below is deliberately small and independent of the generator's plan: it sees
 * only the NDJSON, like the recompute worker does. The medians come from the statistics engine
 * (`analyzeSurvival`, src/stats).
 */

const FILE = fileURLToPath(new URL('../../examples/escc-73.ndjson', import.meta.url));
const DAYS_PER_MONTH = 30.4375;

const lines = readFileSync(FILE, 'utf8')
  .split('\n')
  .filter((line) => line.length > 0);
const parsed = lines.map((line) => eventSchema.safeParse(JSON.parse(line)));
const events: SurvEvent[] = parsed.flatMap((result) => (result.success ? [result.data] : []));

const dayNumber = (iso: string) => Date.parse(`${iso}T00:00:00Z`) / 86_400_000;

type AnalyticRow = {
  patientId: string;
  /** Days from time zero to death or last known alive. */
  time: number;
  event: boolean;
  rt: boolean;
  cycleGroup: string;
  /** Day number of the death or last known alive date. */
  end: number;
};
type Derivation = {
  uniqueEvents: number;
  duplicateLines: number;
  retractions: number;
  registered: number;
  excluded: Record<string, number>;
  rows: AnalyticRow[];
};

/**
 * SPEC section 3 at `cutoff`:
 * 1. Exact re-deliveries of a (source, eventId) count once (a different body would be a conflict).
 * 2. Retractions withdraw their (source, targetEventId); retractions themselves are not facts.
 * 3. Only facts with occurredOn on or before the cutoff are used.
 * 4. Cohort: registered with histology ESCC, setting recurrent/metastatic, and at least one line-1
 *    immunotherapy cycle; otherwise excluded with the first failing reason.
 * 5. Time zero: first line-1 cycle. Event: a death (earliest diedOn if several). Otherwise censored
 *    at the last known alive date = latest occurredOn of any of the patient's facts.
 * 6. Radiotherapy yes: a line-1 course with intent local. Cycle group by the number of distinct
 *    line-1 cycle numbers: 1-6, 7-12, >12.
 */
function derive(all: readonly SurvEvent[], cutoff: string): Derivation {
  const unique = new Map<string, SurvEvent>();
  let duplicateLines = 0;
  for (const event of all) {
    const key = `${event.source}\u0000${event.eventId}`;
    const seen = unique.get(key);
    if (seen === undefined) unique.set(key, event);
    else {
      if (JSON.stringify(seen) !== JSON.stringify(event)) throw new Error(`conflict on ${key}`);
      duplicateLines++;
    }
  }
  const retracted = new Set<string>();
  let retractions = 0;
  for (const event of unique.values()) {
    if (event.type === 'event.retracted') {
      retracted.add(`${event.source}\u0000${event.payload.targetEventId}`);
      retractions++;
    }
  }
  const facts = [...unique.entries()]
    .filter(([key, e]) => e.type !== 'event.retracted' && !retracted.has(key) && e.occurredOn <= cutoff)
    .map(([, e]) => e);

  const byPatient = new Map<string, SurvEvent[]>();
  for (const fact of facts) byPatient.set(fact.patientId, [...(byPatient.get(fact.patientId) ?? []), fact]);

  const excluded: Record<string, number> = {};
  const exclude = (reason: string) => {
    excluded[reason] = (excluded[reason] ?? 0) + 1;
  };
  const rows: AnalyticRow[] = [];
  let registered = 0;
  for (const [patientId, own] of byPatient) {
    const registration = own.find((e) => e.type === 'patient.registered');
    if (registration === undefined) continue;
    registered++;
    const { histology, diseaseSetting } = registration.payload;
    if (histology !== 'ESCC') {
      exclude('histology not ESCC');
      continue;
    }
    if (diseaseSetting !== 'recurrent' && diseaseSetting !== 'metastatic') {
      exclude('disease setting not recurrent/metastatic');
      continue;
    }
    const cycles = own.filter((e) => e.type === 'immunotherapy.cycle' && e.payload.line === 1);
    if (cycles.length === 0) {
      exclude('no line-1 immunotherapy');
      continue;
    }
    const timeZero = Math.min(...cycles.map((e) => dayNumber(e.occurredOn)));
    const deaths = own.flatMap((e) => (e.type === 'death.recorded' ? [dayNumber(e.payload.diedOn)] : []));
    const lastKnownAlive = Math.max(...own.map((e) => dayNumber(e.occurredOn)));
    const end = deaths.length > 0 ? Math.min(...deaths) : lastKnownAlive;
    const distinctCycles = new Set(
      cycles.map((e) => (e.type === 'immunotherapy.cycle' ? e.payload.cycleNumber : 0)),
    ).size;
    rows.push({
      patientId,
      time: end - timeZero,
      end,
      event: deaths.length > 0,
      rt: own.some(
        (e) => e.type === 'radiotherapy.course' && e.payload.line === 1 && e.payload.intent === 'local',
      ),
      cycleGroup: distinctCycles <= 6 ? '1-6' : distinctCycles <= 12 ? '7-12' : '>12',
    });
  }
  return { uniqueEvents: unique.size, duplicateLines, retractions, registered, excluded, rows };
}

const toMonths = (days: number) => days / DAYS_PER_MONTH;
const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * Median OS in months per group, from the statistics engine (R's survfit conventions), run per
 * grouping the way the recompute worker runs it: radiotherapy yes/no, then cycle groups.
 */
function groupMedians(rows: readonly AnalyticRow[]): Record<string, number | null> {
  const medians: Record<string, number | null> = {};
  const groupings: [string, (r: AnalyticRow) => string][] = [
    ['rt', (r) => (r.rt ? 'yes' : 'no')],
    ['cycles', (r) => r.cycleGroup],
  ];
  for (const [grouping, label] of groupings) {
    const analysis = analyzeSurvival(
      rows.map((r) => ({ group: label(r), time: toMonths(r.time), event: r.event ? 1 : 0 })),
    );
    for (const group of analysis.groups) medians[`${grouping}:${group.group}`] = group.median;
  }
  return medians;
}

describe('examples/escc-73.ndjson', () => {
  const derived = derive(events, DATA_CUTOFF);

  it('is exactly what the generator writes (deterministic)', () => {
    expect(readFileSync(FILE, 'utf8')).toBe(generateEscc73().ndjson);
  });

  it('validates line by line against the event contract, with unique eventIds per source', () => {
    const invalid = parsed.flatMap((result, i) =>
      result.success ? [] : [`line ${i + 1}: ${result.error.message}`],
    );
    expect(invalid).toEqual([]);
    expect(lines).toHaveLength(1666);
    expect(new Set(events.map((e) => e.source))).toEqual(new Set(['ehr', 'ois', 'rtrv', 'fu-clinic']));
  });

  it('has the deliberate duplicates, retractions, exclusions and group sizes', () => {
    expect(derived.duplicateLines).toBe(4);
    expect(derived.uniqueEvents).toBe(1662);
    expect(derived.retractions).toBe(2);
    expect(derived.registered).toBe(77);
    expect(derived.excluded).toEqual({
      'histology not ESCC': 2,
      'disease setting not recurrent/metastatic': 1,
      'no line-1 immunotherapy': 1,
    });
    const rows = derived.rows;
    expect(rows).toHaveLength(73);
    expect(rows.filter((r) => r.rt)).toHaveLength(25);
    expect(rows.filter((r) => r.cycleGroup === '1-6')).toHaveLength(31);
    expect(rows.filter((r) => r.cycleGroup === '7-12')).toHaveLength(23);
    expect(rows.filter((r) => r.cycleGroup === '>12')).toHaveLength(19);
    expect(rows.filter((r) => r.event)).toHaveLength(60);
    expect(rows.every((r) => r.time > 0)).toBe(true);
    // Censored: 8 in follow-up at the cutoff (last contact in its last six weeks), 5 lost earlier.
    const cutoffDay = dayNumber(DATA_CUTOFF);
    const censoredEnds = rows.filter((r) => !r.event).map((r) => r.end);
    expect(censoredEnds.filter((end) => end >= cutoffDay - 42)).toHaveLength(8);
    expect(censoredEnds.filter((end) => end < cutoffDay - 42)).toHaveLength(5);
    const { expected } = generateEscc73();
    expect(expected.groups).toEqual({
      'rt:yes': 25,
      'rt:no': 48,
      'cycles:1-6': 31,
      'cycles:7-12': 23,
      'cycles:>12': 19,
    });
  });

  it('reproduces the paper at the cutoff: 31.5 vs 10.7 months by radiotherapy, 14.6 / 21.1 / 52.1 by cycles', () => {
    const medians = groupMedians(derived.rows);
    expect(
      Object.fromEntries(Object.entries(medians).map(([k, v]) => [k, v === null ? null : round1(v)])),
    ).toEqual({
      'rt:yes': 31.5,
      'rt:no': 10.7,
      'cycles:1-6': 14.6,
      'cycles:7-12': 21.1,
      'cycles:>12': 52.1,
    });
    // Exactly the designated deaths (days / 30.4375), not a midpoint that happens to round well.
    expect(medians['rt:yes']).toBeCloseTo(959 / DAYS_PER_MONTH, 12);
    expect(medians['rt:no']).toBeCloseTo(326 / DAYS_PER_MONTH, 12);
    expect(medians['cycles:1-6']).toBeCloseTo(444 / DAYS_PER_MONTH, 12);
    expect(medians['cycles:7-12']).toBeCloseTo(642 / DAYS_PER_MONTH, 12);
    expect(medians['cycles:>12']).toBeCloseTo(1586 / DAYS_PER_MONTH, 12);
  });

  it('depends on applying retractions and the cutoff (the traps are live)', () => {
    // Without retractions: the wrong cycle number 13 moves a 12-cycle patient to >12, and the
    // wrong date of death stays (earliest of two wins here).
    const unretracted = derive(
      events.filter((e) => e.type !== 'event.retracted'),
      DATA_CUTOFF,
    );
    expect(unretracted.rows.filter((r) => r.cycleGroup === '>12')).toHaveLength(20);
    const timeOf = (d: Derivation) => new Map(d.rows.map((r) => [r.patientId, r.time]));
    const withRetractions = timeOf(derived);
    const changed = [...timeOf(unretracted)].filter(([id, t]) => withRetractions.get(id) !== t);
    expect(changed).toHaveLength(1);
    expect(withRetractions.get(changed[0]![0])! - changed[0]![1]).toBe(365);
    // Facts after the cutoff exist (contacts, one death) and would change the result.
    expect(events.some((e) => e.occurredOn > DATA_CUTOFF)).toBe(true);
    const noCutoff = derive(events, '2100-12-31');
    expect(noCutoff.rows.filter((r) => r.event)).toHaveLength(61);
  });

  it('gives the same analytic rows in any arrival order (late events, duplicates)', () => {
    // The feed is chronological up to the facts after the cutoff; then come late arrivals of
    // early facts (a registration, a first cycle, a radiotherapy course, a last contact, a death)
    // and the corrections.
    const firstAfterCutoff = events.findIndex((e) => e.occurredOn > DATA_CUTOFF);
    const lateArrivals = events.slice(firstAfterCutoff).filter((e) => e.occurredOn <= DATA_CUTOFF);
    expect(new Set(lateArrivals.map((e) => e.type))).toEqual(
      new Set([
        'patient.registered',
        'immunotherapy.cycle',
        'radiotherapy.course',
        'followup.contact',
        'death.recorded',
        'event.retracted',
      ]),
    );
    const reversed = derive([...events].reverse(), DATA_CUTOFF);
    const sorted = (rows: AnalyticRow[]) => [...rows].sort((a, b) => (a.patientId < b.patientId ? -1 : 1));
    expect(sorted(reversed.rows)).toEqual(sorted(derived.rows));
  });
});
