/**
 * Deterministic generator of the synthetic example cohort `examples/escc-73.ndjson`: 73 made-up
 * patients with recurrent or metastatic ESCC on first-line immunotherapy (2019-2022), plus 4
 * registered patients the cohort rules exclude, as event contract v1 NDJSON. No real data.
 *
 *   npx tsx examples/generate-escc-73.ts      # rewrites examples/escc-73.ndjson
 *
 * How the paper's medians are hit (Yu et al., BMC Cancer 25:1484, 2025): every patient belongs to
 * one radiotherapy group (yes/no) and one cycle group (1-6/7-12/>12). Each of the five groups has
 * one designated patient who dies exactly at the group's target day; every other patient's
 * survival time is drawn (seeded PRNG) inside an interval that puts it on a fixed side of the
 * target of BOTH of its groups, with the counts per side chosen so the Kaplan-Meier curve of each
 * group crosses 0.5 exactly at its designated death. Nobody is censored before a median they
 * matter for, except one patient lost to follow-up early (radiotherapy no, 7-12 cycles), whom the
 * counts account for; that also keeps the even-sized no-radiotherapy group off S = 0.5 exactly.
 * The generator recomputes the five medians from the plan and refuses to write a file that misses.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { analyzeSurvival } from '../src/stats/index.js';

export const DATA_CUTOFF = '2024-12-31';
export const DAYS_PER_MONTH = 30.4375;
const SEED = 20250314;

/** Target median in days per group; each rounds to the paper's figure in months (one decimal). */
export const TARGET_MEDIAN_DAYS = {
  'rt:yes': 959, // 31.507 months -> 31.5
  'rt:no': 326, // 10.710 months -> 10.7
  'cycles:1-6': 444, // 14.587 months -> 14.6
  'cycles:7-12': 642, // 21.092 months -> 21.1
  'cycles:>12': 1586, // 52.107 months -> 52.1
} as const;
export const PAPER_MEDIAN_MONTHS = {
  'rt:yes': 31.5,
  'rt:no': 10.7,
  'cycles:1-6': 14.6,
  'cycles:7-12': 21.1,
  'cycles:>12': 52.1,
} as const;

type CycleGroup = '1-6' | '7-12' | '>12';
type Outcome = 'death' | 'death-or-censored' | 'lost';
type Slot = {
  rt: boolean;
  cycleGroup: CycleGroup;
  /** Survival time in days: drawn uniformly from [lo, hi], or fixed when lo === hi. */
  lo: number;
  hi: number;
  outcome: Outcome;
  count: number;
};

/**
 * The plan: 25 radiotherapy yes / 48 no; 31 / 23 / 19 patients with 1-6 / 7-12 / >12 cycles.
 * Per group (deaths below the target, designated death at the target, the rest above):
 *   rt yes 25 = 12 + 1 + 12;  rt no 48 = 23 (+1 lost early) + 1 + 23;
 *   1-6 31 = 15 + 1 + 15;  7-12 23 = 11 (+1 lost early) + 1 + 10;  >12 19 = 9 + 1 + 9.
 * With one censoring below the median, an odd group of n crosses 0.5 at death (n+1)/2 and the
 * 48-patient group at death 24, whatever the number of deaths before the censoring (>= 1).
 */
const PLAN: readonly Slot[] = [
  // radiotherapy yes, 1-6 cycles (5)
  { rt: true, cycleGroup: '1-6', lo: 200, hi: 438, outcome: 'death', count: 1 },
  { rt: true, cycleGroup: '1-6', lo: 452, hi: 950, outcome: 'death', count: 2 },
  { rt: true, cycleGroup: '1-6', lo: 975, hi: 1900, outcome: 'death-or-censored', count: 2 },
  // radiotherapy yes, 7-12 cycles (8)
  { rt: true, cycleGroup: '7-12', lo: 300, hi: 630, outcome: 'death', count: 1 },
  { rt: true, cycleGroup: '7-12', lo: 650, hi: 950, outcome: 'death', count: 7 },
  // radiotherapy yes, >12 cycles (12, two of them designated)
  { rt: true, cycleGroup: '>12', lo: 420, hi: 940, outcome: 'death', count: 1 },
  { rt: true, cycleGroup: '>12', lo: 959, hi: 959, outcome: 'death', count: 1 }, // rt yes median
  { rt: true, cycleGroup: '>12', lo: 975, hi: 1570, outcome: 'death', count: 3 },
  { rt: true, cycleGroup: '>12', lo: 1586, hi: 1586, outcome: 'death', count: 1 }, // >12 median
  { rt: true, cycleGroup: '>12', lo: 1600, hi: 2150, outcome: 'death-or-censored', count: 6 },
  // radiotherapy no, 1-6 cycles (26, two of them designated)
  { rt: false, cycleGroup: '1-6', lo: 40, hi: 318, outcome: 'death', count: 12 },
  { rt: false, cycleGroup: '1-6', lo: 326, hi: 326, outcome: 'death', count: 1 }, // rt no median
  { rt: false, cycleGroup: '1-6', lo: 334, hi: 436, outcome: 'death', count: 1 },
  { rt: false, cycleGroup: '1-6', lo: 444, hi: 444, outcome: 'death', count: 1 }, // 1-6 median
  { rt: false, cycleGroup: '1-6', lo: 455, hi: 1800, outcome: 'death-or-censored', count: 11 },
  // radiotherapy no, 7-12 cycles (15, one designated, one lost to follow-up early)
  { rt: false, cycleGroup: '7-12', lo: 150, hi: 170, outcome: 'death', count: 1 },
  { rt: false, cycleGroup: '7-12', lo: 172, hi: 320, outcome: 'death', count: 8 },
  { rt: false, cycleGroup: '7-12', lo: 281, hi: 281, outcome: 'lost', count: 1 },
  { rt: false, cycleGroup: '7-12', lo: 335, hi: 630, outcome: 'death', count: 1 },
  { rt: false, cycleGroup: '7-12', lo: 642, hi: 642, outcome: 'death', count: 1 }, // 7-12 median
  { rt: false, cycleGroup: '7-12', lo: 655, hi: 1700, outcome: 'death-or-censored', count: 3 },
  // radiotherapy no, >12 cycles (7)
  { rt: false, cycleGroup: '>12', lo: 290, hi: 320, outcome: 'death', count: 2 },
  { rt: false, cycleGroup: '>12', lo: 335, hi: 1570, outcome: 'death', count: 2 },
  { rt: false, cycleGroup: '>12', lo: 1600, hi: 2150, outcome: 'death-or-censored', count: 3 },
];

// ---------------------------------------------------------------------------------------------
// Deterministic randomness and dates

/** mulberry32: a tiny seeded PRNG, so the file is byte-identical on every run. */
function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  return { next, int, pick };
}
type Random = ReturnType<typeof createRandom>;

const MS_PER_DAY = 86_400_000;
/** Days since 1970-01-01 of an ISO date. */
export function dayNumber(iso: string): number {
  return Math.round(Date.parse(`${iso}T00:00:00Z`) / MS_PER_DAY);
}
export function isoDate(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

const CUTOFF_DAY = dayNumber(DATA_CUTOFF);
const ENROLMENT_FIRST_DAY = dayNumber('2019-01-01');
const ENROLMENT_LAST_DAY = dayNumber('2022-12-31');
const CYCLE_INTERVAL_DAYS = 21;
const MAX_CYCLES = 35;

// ---------------------------------------------------------------------------------------------
// Patients

type Sex = 'female' | 'male';
type Patient = {
  patientId: string;
  sex: Sex;
  birthYear: number;
  histology: string;
  diseaseSetting: string;
  diagnosedOn: number;
  timeZero: number;
  agent: string;
  chemoPartner: string;
  /** Line-1 cycles given (every 21 days from time zero). */
  cycles: number;
  /** Survival or censoring time in days from time zero. */
  days: number;
  died: boolean;
  /** Survivors only: last contact on or before the cutoff (time = days). */
  lostToFollowUp: boolean;
  rt: boolean;
  cycleGroup: CycleGroup;
  inCohort: boolean;
};

const AGENTS = ['camrelizumab', 'tislelizumab', 'sintilimab', 'toripalimab', 'pembrolizumab', 'nivolumab'];
const CHEMO = ['paclitaxel + cisplatin', 'paclitaxel + carboplatin', 'fluorouracil + cisplatin'];

function cycleBounds(group: CycleGroup): [number, number] {
  if (group === '1-6') return [1, 6];
  if (group === '7-12') return [7, 12];
  return [13, MAX_CYCLES];
}

/** Cycles a patient followed for `days` can have had: the last one at least 14 days before. */
function maxCyclesWithin(days: number): number {
  return Math.floor((days - 14) / CYCLE_INTERVAL_DAYS) + 1;
}

function drawCycles(random: Random, group: CycleGroup, days: number): number {
  const [lo, hiGroup] = cycleBounds(group);
  const hi = Math.min(hiGroup, maxCyclesWithin(days));
  if (hi < lo) throw new Error(`plan error: ${days} days cannot hold ${lo} cycles`);
  // Longer survivors plausibly stayed on treatment longer: draw from the upper part for them.
  const from = group === '>12' && days > 1000 ? Math.max(lo, hi - 8) : lo;
  return random.int(from, hi);
}

function drawTimeZero(random: Random, days: number, censoredAtCutoff: boolean): number {
  if (censoredAtCutoff) {
    // Survivor in follow-up: the last contact falls in the last six weeks before the cutoff.
    const timeZero = CUTOFF_DAY - random.int(0, 42) - days;
    if (timeZero < ENROLMENT_FIRST_DAY || timeZero > ENROLMENT_LAST_DAY) {
      throw new Error(`plan error: a survivor followed ${days} days falls outside 2019-2022`);
    }
    return timeZero;
  }
  const latest = Math.min(ENROLMENT_LAST_DAY, CUTOFF_DAY - days - 1);
  if (latest < ENROLMENT_FIRST_DAY) throw new Error(`plan error: ${days} days do not fit before the cutoff`);
  return random.int(ENROLMENT_FIRST_DAY, latest);
}

function makePatientId(random: Random, used: Set<string>): string {
  for (;;) {
    const id = `MRN-${String(random.int(100_000, 999_999)).padStart(6, '0')}`;
    if (!used.has(id)) {
      used.add(id);
      return id;
    }
  }
}

function drawDemographics(random: Random, timeZero: number) {
  const sex: Sex = random.next() < 0.8 ? 'male' : 'female';
  const ageAtStart = random.int(44, 79);
  const birthYear = new Date(timeZero * MS_PER_DAY).getUTCFullYear() - ageAtStart;
  const recurrent = random.next() < 0.4;
  const diagnosedOn = recurrent ? timeZero - random.int(300, 1200) : timeZero - random.int(14, 45);
  return { sex, birthYear, diseaseSetting: recurrent ? 'recurrent' : 'metastatic', diagnosedOn };
}

function buildCohortPatients(random: Random, used: Set<string>): Patient[] {
  const patients: Patient[] = [];
  for (const slot of PLAN) {
    for (let i = 0; i < slot.count; i++) {
      const days = random.int(slot.lo, slot.hi);
      let died: boolean;
      let lost = false;
      if (slot.outcome === 'death') died = true;
      else if (slot.outcome === 'lost') {
        died = false;
        lost = true;
      } else {
        // About half of the long survivors die; the others are in follow-up at the cutoff or
        // were lost to follow-up earlier. Enrolment was in 2019-2022, so only follow-up of two
        // years or more can end at the cutoff.
        const draw = random.next();
        died = draw < 0.5;
        lost = !died && (days < 740 || draw > 0.85);
      }
      const timeZero = drawTimeZero(random, days, !died && !lost);
      patients.push({
        patientId: makePatientId(random, used),
        ...drawDemographics(random, timeZero),
        histology: 'ESCC',
        timeZero,
        agent: random.pick(AGENTS),
        chemoPartner: random.pick(CHEMO),
        cycles: drawCycles(random, slot.cycleGroup, days),
        days,
        died,
        lostToFollowUp: lost,
        rt: slot.rt,
        cycleGroup: slot.cycleGroup,
        inCohort: true,
      });
    }
  }
  return patients;
}

// ---------------------------------------------------------------------------------------------
// Self-check of the plan with the statistics engine (the test re-derives everything from events)

function groupKeys(p: Pick<Patient, 'rt' | 'cycleGroup'>): (keyof typeof TARGET_MEDIAN_DAYS)[] {
  return [p.rt ? 'rt:yes' : 'rt:no', `cycles:${p.cycleGroup}`];
}

function checkPlanMedians(patients: readonly Patient[]): void {
  for (const [key, target] of Object.entries(TARGET_MEDIAN_DAYS)) {
    const members = patients.filter((p) => groupKeys(p).includes(key as keyof typeof TARGET_MEDIAN_DAYS));
    const rows = members.map((p) => ({
      group: key,
      time: p.days,
      event: p.died ? (1 as const) : (0 as const),
    }));
    const median = analyzeSurvival(rows, { includeCurve: false }).groups[0]?.median;
    if (median !== target) throw new Error(`plan error: median of ${key} is ${median} days, want ${target}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Events

type Json = Record<string, unknown>;
type Event = {
  eventId: string;
  source: string;
  type: string;
  schemaVersion: 1;
  patientId: string;
  occurredOn: string;
  payload: Json;
};

function createEventFactory() {
  const serials = new Map<string, number>();
  const prefixes: Record<string, string> = { ehr: 'EHR-REG', ois: 'OIS', rtrv: 'RTRV', 'fu-clinic': 'FU' };
  return (source: string, type: string, patientId: string, occurredOn: number, payload: Json): Event => {
    const serial = (serials.get(source) ?? 0) + 1;
    serials.set(source, serial);
    return {
      eventId: `${prefixes[source]}-${String(serial).padStart(6, '0')}`,
      source,
      type,
      schemaVersion: 1,
      patientId,
      occurredOn: isoDate(occurredOn),
      payload,
    };
  };
}
type EventFactory = ReturnType<typeof createEventFactory>;

type RtSite = 'primary' | 'regional-node' | 'metastasis';
/** Plausible [total dose Gy, fractions] per site. */
const RT_SCHEMES: Record<RtSite, readonly (readonly [number, number])[]> = {
  primary: [
    [50, 25],
    [50.4, 28],
    [60, 30],
  ],
  'regional-node': [
    [50, 25],
    [45, 25],
    [60, 30],
  ],
  metastasis: [
    [30, 10],
    [36, 12],
    [40, 5],
  ],
};

/** Calendar days of a course of `fractions` weekday fractions starting on a weekday. */
function courseLength(fractions: number): number {
  return Math.floor((fractions - 1) / 5) * 7 + ((fractions - 1) % 5);
}

function cycleEvents(make: EventFactory, p: Patient, line = 1, firstDay = p.timeZero): Event[] {
  const chemoCycles = Math.min(p.cycles, 4 + (p.patientId.charCodeAt(9) % 3));
  const events: Event[] = [];
  for (let n = 1; n <= p.cycles; n++) {
    const regimen = n <= chemoCycles ? `${p.agent} + ${p.chemoPartner}` : `${p.agent} maintenance`;
    events.push(
      make('ois', 'immunotherapy.cycle', p.patientId, firstDay + (n - 1) * CYCLE_INTERVAL_DAYS, {
        line,
        cycleNumber: n,
        agent: p.agent,
        regimen,
      }),
    );
  }
  return events;
}

function radiotherapyEvent(
  make: EventFactory,
  random: Random,
  p: Patient,
  overrides: {
    line?: number;
    intent?: string;
    start?: number;
    site?: RtSite;
    scheme?: readonly [number, number];
  } = {},
): Event {
  const site = overrides.site ?? random.pick<RtSite>(['primary', 'primary', 'regional-node', 'metastasis']);
  const [totalDoseGy, fractions] = overrides.scheme ?? random.pick(RT_SCHEMES[site]);
  // During first-line therapy: from two weeks after time zero to the last cycle, and finished
  // well before the end of follow-up.
  const lastCycle = p.timeZero + (p.cycles - 1) * CYCLE_INTERVAL_DAYS;
  const latestStart = Math.min(
    Math.max(lastCycle, p.timeZero + 14),
    p.timeZero + p.days - courseLength(fractions) - 21,
  );
  const start = overrides.start ?? random.int(p.timeZero + 14, Math.max(p.timeZero + 14, latestStart));
  const end = start + courseLength(fractions);
  return make('rtrv', 'radiotherapy.course', p.patientId, start, {
    line: overrides.line ?? 1,
    intent: overrides.intent ?? 'local',
    site,
    startedOn: isoDate(start),
    endedOn: isoDate(end),
    totalDoseGy,
    fractions,
  });
}

/** Follow-up contacts every ~3 months; a survivor's last one is exactly the censoring date. */
function followUpEvents(make: EventFactory, random: Random, p: Patient): Event[] {
  const end = p.timeZero + p.days;
  const events: Event[] = [];
  for (let day = p.timeZero + random.int(80, 100); day < end - 7; day += random.int(80, 100)) {
    events.push(make('fu-clinic', 'followup.contact', p.patientId, day, { vitalStatus: 'alive' }));
  }
  if (!p.died) events.push(make('fu-clinic', 'followup.contact', p.patientId, end, { vitalStatus: 'alive' }));
  return events;
}

const CAUSES = ['disease progression', 'disease progression', 'disease progression', 'pneumonia', 'unknown'];

function registrationEvent(make: EventFactory, p: Patient): Event {
  return make('ehr', 'patient.registered', p.patientId, p.diagnosedOn, {
    histology: p.histology,
    diseaseSetting: p.diseaseSetting,
    diagnosedOn: isoDate(p.diagnosedOn),
    sex: p.sex,
    birthYear: p.birthYear,
  });
}

function patientEvents(make: EventFactory, random: Random, p: Patient): Event[] {
  const events = [registrationEvent(make, p), ...cycleEvents(make, p)];
  if (p.rt) events.push(radiotherapyEvent(make, random, p));
  events.push(...followUpEvents(make, random, p));
  if (p.died) {
    const diedOn = p.timeZero + p.days;
    events.push(
      make('fu-clinic', 'death.recorded', p.patientId, diedOn, {
        diedOn: isoDate(diedOn),
        cause: random.pick(CAUSES),
      }),
    );
  }
  return events;
}

/** Four registered patients outside the cohort rules, one reason each (three reasons in all). */
function excludedPatients(random: Random, used: Set<string>): { patient: Patient; extra: string }[] {
  const make = (
    histology: string,
    diseaseSetting: string,
    cycles: number,
    days: number,
    died: boolean,
    extra: string,
  ) => {
    const timeZero = drawTimeZero(random, days, !died);
    const demographics = drawDemographics(random, timeZero);
    const patient: Patient = {
      patientId: makePatientId(random, used),
      ...demographics,
      histology,
      diseaseSetting,
      timeZero,
      agent: random.pick(AGENTS),
      chemoPartner: random.pick(CHEMO),
      cycles,
      days,
      died,
      lostToFollowUp: false,
      rt: false,
      cycleGroup: '1-6',
      inCohort: false,
    };
    return { patient, extra };
  };
  return [
    make('adenocarcinoma', 'metastatic', 6, 301, true, 'none'),
    make('adenocarcinoma', 'recurrent', 10, 910, false, 'none'),
    make('ESCC', 'locally advanced', 4, 1100, false, 'definitive-rt'),
    make('ESCC', 'metastatic', 5, 388, true, 'second-line-only'),
  ];
}

// ---------------------------------------------------------------------------------------------
// Assembly

export type GeneratedExample = {
  ndjson: string;
  /** What the test checks the file against. */
  expected: {
    lines: number;
    uniqueEvents: number;
    duplicateLines: number;
    retractions: number;
    registeredPatients: number;
    cohortPatients: number;
    excluded: Record<string, number>;
    groups: Record<string, number>;
    deaths: number;
  };
};

function byDateThenId(a: Event, b: Event): number {
  if (a.occurredOn !== b.occurredOn) return a.occurredOn < b.occurredOn ? -1 : 1;
  if (a.source !== b.source) return a.source < b.source ? -1 : 1;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

export function generateEscc73(): GeneratedExample {
  const random = createRandom(SEED);
  const used = new Set<string>();
  const make = createEventFactory();
  const cohort = buildCohortPatients(random, used);
  checkPlanMedians(cohort);

  const events: Event[] = [];
  for (const p of cohort) events.push(...patientEvents(make, random, p));

  // Radiotherapy that does NOT make a patient "radiotherapy yes" (SPEC 3: line 1, intent local):
  // a palliative single fraction to a bone metastasis in line 1, and a local course in line 2.
  const noRt = cohort.filter((p) => !p.rt && p.days > p.cycles * CYCLE_INTERVAL_DAYS + 240);
  const palliative = noRt[0]!;
  events.push(
    radiotherapyEvent(make, random, palliative, {
      intent: 'palliative',
      site: 'metastasis',
      scheme: [8, 1],
      start: palliative.timeZero + 30,
    }),
  );
  const secondLine = noRt[1]!;
  events.push(
    radiotherapyEvent(make, random, secondLine, {
      line: 2,
      start: secondLine.timeZero + secondLine.cycles * CYCLE_INTERVAL_DAYS + 60,
    }),
  );

  // Excluded patients (in addition to the 73).
  const excluded = excludedPatients(random, used);
  for (const { patient, extra } of excluded) {
    const own = [registrationEvent(make, patient)];
    if (extra === 'second-line-only') {
      // First line was chemotherapy alone (not an event type here); immunotherapy came in line 2.
      own.push(...cycleEvents(make, patient, 2, patient.timeZero + 150));
      patient.days += 150;
    } else own.push(...cycleEvents(make, patient));
    if (extra === 'definitive-rt')
      own.push(radiotherapyEvent(make, random, patient, { intent: 'definitive' }));
    own.push(...followUpEvents(make, random, patient));
    if (patient.died) {
      const diedOn = patient.timeZero + patient.days;
      own.push(make('fu-clinic', 'death.recorded', patient.patientId, diedOn, { diedOn: isoDate(diedOn) }));
    }
    events.push(...own);
  }

  // Facts after the cutoff (ignored at the example's cutoff): further contacts of some survivors,
  // and one survivor who dies after the cutoff (censored at the last contact before it).
  const survivors = cohort.filter((p) => !p.died && !p.lostToFollowUp);
  survivors.forEach((p, i) => {
    if (i % 3 === 0) {
      events.push(
        make('fu-clinic', 'followup.contact', p.patientId, CUTOFF_DAY + random.int(20, 75), {
          vitalStatus: 'alive',
        }),
      );
    }
  });
  const diesAfterCutoff = survivors[1]!;
  const lateDeath = CUTOFF_DAY + random.int(30, 60);
  events.push(
    make('fu-clinic', 'death.recorded', diesAfterCutoff.patientId, lateDeath, {
      diedOn: isoDate(lateDeath),
      cause: 'disease progression',
    }),
  );

  // Corrections: a retraction + the corrected event with a new eventId, sent later.
  const corrections: Event[] = [];
  // (1) ois sent a patient's 12th cycle as cycleNumber 13 (which would make it a >12 patient).
  const twelve = cohort.find((p) => p.cycles === 12)!;
  const wrongCycleIndex = events.findIndex(
    (e) =>
      e.patientId === twelve.patientId && e.type === 'immunotherapy.cycle' && e.payload.cycleNumber === 12,
  );
  const wrongCycle = events[wrongCycleIndex]!;
  wrongCycle.payload = { ...wrongCycle.payload, cycleNumber: 13 };
  corrections.push(
    make('ois', 'event.retracted', twelve.patientId, dayNumber(wrongCycle.occurredOn), {
      targetEventId: wrongCycle.eventId,
      reason: 'cycle number entered as 13, is 12',
    }),
    make('ois', 'immunotherapy.cycle', twelve.patientId, dayNumber(wrongCycle.occurredOn), {
      ...wrongCycle.payload,
      cycleNumber: 12,
    }),
  );
  // (2) fu-clinic keyed a date of death one year early (left unretracted, the patient would have
  // two conflicting dates of death, one of them a year too early).
  const misdated = cohort.find((p) => p.died && p.days > 600 && p.cycles > 12)!;
  const deathIndex = events.findIndex(
    (e) => e.patientId === misdated.patientId && e.type === 'death.recorded',
  );
  const death = events[deathIndex]!;
  const trueDeath = dayNumber(death.occurredOn);
  death.occurredOn = isoDate(trueDeath - 365);
  death.payload = { ...death.payload, diedOn: death.occurredOn };
  corrections.push(
    make('fu-clinic', 'event.retracted', misdated.patientId, trueDeath, {
      targetEventId: death.eventId,
      reason: 'date of death keyed with the wrong year',
    }),
    make('fu-clinic', 'death.recorded', misdated.patientId, trueDeath, {
      ...death.payload,
      diedOn: isoDate(trueDeath),
    }),
  );

  // A chronological feed, except for a few late arrivals (early facts sent at the end): a
  // registration, a first cycle (it defines time zero), a radiotherapy course (it defines the
  // group), a survivor's last contact (it defines the censoring time) and a death.
  events.sort(byDateThenId);
  const lateIndexes = [
    events.findIndex((e) => e.type === 'patient.registered' && e.patientId === cohort[40]!.patientId),
    events.findIndex(
      (e) =>
        e.type === 'immunotherapy.cycle' &&
        e.patientId === cohort[20]!.patientId &&
        e.payload.cycleNumber === 1,
    ),
    events.findIndex((e) => e.type === 'radiotherapy.course' && e.patientId === cohort[7]!.patientId),
    events.findLastIndex(
      (e) =>
        e.type === 'followup.contact' &&
        e.patientId === survivors[2]!.patientId &&
        e.occurredOn <= DATA_CUTOFF,
    ),
    events.findIndex(
      (e) =>
        e.type === 'death.recorded' &&
        e.patientId === cohort.find((p, i) => i > 15 && p.died && p !== misdated)!.patientId,
    ),
  ];
  if (lateIndexes.some((i) => i < 0)) throw new Error('generator error: a late event was not found');
  const lateEvents = lateIndexes.map((i) => events[i]!);
  const ordered = events.filter((_, i) => !lateIndexes.includes(i));
  ordered.push(lateEvents[0]!, lateEvents[1]!, ...corrections.slice(0, 2), lateEvents[2]!);
  ordered.push(lateEvents[3]!, ...corrections.slice(2), lateEvents[4]!);

  // Re-deliveries: four events sent twice (identical JSON), the copy somewhat later.
  const lines = ordered.map((e) => JSON.stringify(e));
  const duplicateSources = [0.07, 0.38, 0.71, 0.995].map((at) => Math.floor(lines.length * at));
  const insertions = duplicateSources
    .map((from) => ({ at: Math.min(lines.length, from + random.int(5, 60)), line: lines[from]! }))
    .sort((a, b) => b.at - a.at);
  for (const { at, line } of insertions) lines.splice(at, 0, line);

  const allPatients = [...cohort, ...excluded.map((e) => e.patient)];
  const count = (predicate: (p: Patient) => boolean) => cohort.filter(predicate).length;
  return {
    ndjson: `${lines.join('\n')}\n`,
    expected: {
      lines: lines.length,
      uniqueEvents: ordered.length,
      duplicateLines: duplicateSources.length,
      retractions: 2,
      registeredPatients: allPatients.length,
      cohortPatients: cohort.length,
      excluded: {
        'histology not ESCC': 2,
        'disease setting not recurrent/metastatic': 1,
        'no line-1 immunotherapy': 1,
      },
      groups: {
        'rt:yes': count((p) => p.rt),
        'rt:no': count((p) => !p.rt),
        'cycles:1-6': count((p) => p.cycleGroup === '1-6'),
        'cycles:7-12': count((p) => p.cycleGroup === '7-12'),
        'cycles:>12': count((p) => p.cycleGroup === '>12'),
      },
      deaths: count((p) => p.died),
    },
  };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const { ndjson, expected } = generateEscc73();
  const out = join(dirname(fileURLToPath(import.meta.url)), 'escc-73.ndjson');
  writeFileSync(out, ndjson);
  console.log(`wrote ${out}`);
  console.log(JSON.stringify(expected, null, 2));
}
