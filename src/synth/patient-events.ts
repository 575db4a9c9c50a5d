import type { SurvEvent } from '../contract/events.js';
import { addDays, daysBetween } from '../util/dates.js';
import type { Random } from './prng.js';

/**
 * One synthetic patient's history as contract events, in clinical order. The model is simple
 * but shaped like the disease: survival is exponential with a longer median after local
 * radiotherapy, first-line immunotherapy runs in 21-day cycles until progression, death or two
 * years, and follow-up contacts come roughly every three months until death, loss to follow-up
 * or the data cutoff. Nothing after the cutoff is emitted: the cutoff is "today" in that world.
 */

export type SynthOptions = {
  seed: number;
  cutoff: string;
  enrolFrom: string;
  enrolTo: string;
};

const AGENTS = [
  'camrelizumab',
  'tislelizumab',
  'sintilimab',
  'toripalimab',
  'pembrolizumab',
  'nivolumab',
] as const;
const SITES = ['primary', 'regional-node', 'metastasis'] as const;
const DAYS_PER_MONTH = 30.4375;

export function patientEvents(index: number, options: SynthOptions, random: Random): SurvEvent[] {
  const patientId = `MRN-${options.seed}-${String(index).padStart(8, '0')}`;
  const events: SurvEvent[] = [];
  const id = (kind: string, n = 0) => `${kind}-${options.seed}-${index}-${n}`;
  const enrolSpan = daysBetween(options.enrolFrom, options.enrolTo);
  const timeZero = addDays(options.enrolFrom, random.int(0, enrolSpan));
  const follow = daysBetween(timeZero, options.cutoff);

  const exclusion = random.next();
  const histology = exclusion < 0.04 ? 'adenocarcinoma' : 'ESCC';
  const diseaseSetting =
    exclusion >= 0.04 && exclusion < 0.07
      ? 'locally advanced'
      : random.chance(0.55)
        ? 'metastatic'
        : 'recurrent';
  const noFirstLineImmunotherapy = exclusion >= 0.07 && exclusion < 0.09;

  const diagnosedOn = addDays(timeZero, -random.int(14, 180));
  events.push({
    eventId: id('reg'),
    source: 'ehr',
    type: 'patient.registered',
    schemaVersion: 1,
    patientId,
    occurredOn: diagnosedOn,
    payload: {
      histology,
      diseaseSetting,
      diagnosedOn,
      sex: random.chance(0.8) ? 'male' : 'female',
      birthYear: random.int(1940, 1975),
    },
  });

  const radiotherapy = random.chance(0.3);
  const survivalDays = Math.max(1, Math.round(random.exponential((radiotherapy ? 26 : 12) * DAYS_PER_MONTH)));
  const progressionDays = Math.round(random.exponential((radiotherapy ? 9 : 6) * DAYS_PER_MONTH));
  const lostAfter = random.chance(0.05)
    ? random.int(30, Math.max(31, survivalDays))
    : Number.POSITIVE_INFINITY;
  const endOfObservation = Math.min(survivalDays, lostAfter, follow);

  const line = noFirstLineImmunotherapy ? 2 : 1;
  const treatmentDays = Math.min(progressionDays, survivalDays - 1, 730, follow);
  const cycles = Math.min(35, Math.max(1, Math.floor(treatmentDays / 21) + 1));
  const agent = random.pick(AGENTS);
  for (let cycle = 1; cycle <= cycles; cycle++) {
    const day = (cycle - 1) * 21 + (cycle > 1 ? random.int(-2, 3) : 0);
    if (day > endOfObservation) break;
    events.push({
      eventId: id('cyc', cycle),
      source: 'ois',
      type: 'immunotherapy.cycle',
      schemaVersion: 1,
      patientId,
      occurredOn: addDays(timeZero, day),
      payload: { line, cycleNumber: cycle, agent, regimen: `${agent} + paclitaxel/cisplatin` },
    });
  }

  if (radiotherapy) {
    const start = random.int(21, 120);
    const fractions = random.chance(0.6) ? random.int(25, 30) : 10;
    const endedAfter = Math.round((fractions / 5) * 7) - 3;
    if (start + endedAfter <= endOfObservation) {
      events.push({
        eventId: id('rt'),
        source: 'rtrv',
        type: 'radiotherapy.course',
        schemaVersion: 1,
        patientId,
        occurredOn: addDays(timeZero, start),
        payload: {
          line: 1,
          intent: 'local',
          site: random.pick(SITES),
          startedOn: addDays(timeZero, start),
          endedOn: addDays(timeZero, start + endedAfter),
          totalDoseGy: fractions === 10 ? 30 : fractions * 2,
          fractions,
        },
      });
    }
  }

  let contact = 0;
  for (let day = 90 + random.int(-14, 14); day < endOfObservation; day += 90 + random.int(-14, 14)) {
    events.push({
      eventId: id('fu', ++contact),
      source: 'fu-clinic',
      type: 'followup.contact',
      schemaVersion: 1,
      patientId,
      occurredOn: addDays(timeZero, day),
      payload: { vitalStatus: 'alive' },
    });
  }

  if (survivalDays <= follow && survivalDays <= lostAfter) {
    const diedOn = addDays(timeZero, survivalDays);
    events.push({
      eventId: id('death'),
      source: 'fu-clinic',
      type: 'death.recorded',
      schemaVersion: 1,
      patientId,
      occurredOn: diedOn,
      payload: { diedOn, cause: random.chance(0.85) ? 'esophageal cancer' : 'other' },
    });
  }
  return events;
}
