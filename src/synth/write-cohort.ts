import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { patientEvents, type SynthOptions } from './patient-events.js';
import { Random } from './prng.js';

export type CohortOptions = SynthOptions & {
  patients: number;
  /** Share of events sent twice (identical re-delivery), default 0.005. */
  duplicateRate?: number;
  /** Share of events held back and sent later in the stream (late arrival), default 0.01. */
  lateRate?: number;
  onProgress?: (patientsDone: number, eventsWritten: number) => void;
};

export type CohortCounts = { patients: number; lines: number; duplicates: number; late: number };

// Late events wait in a bounded buffer, so memory stays flat for any number of patients.
const LATE_BUFFER = 2_000;

/** Streams a synthetic cohort as NDJSON to `out`, honouring backpressure. */
export async function writeCohort(out: Writable, options: CohortOptions): Promise<CohortCounts> {
  const random = new Random(options.seed);
  const duplicateRate = options.duplicateRate ?? 0.005;
  const lateRate = options.lateRate ?? 0.01;
  const late: string[] = [];
  const counts: CohortCounts = { patients: options.patients, lines: 0, duplicates: 0, late: 0 };
  let chunk = '';

  const flush = async () => {
    if (!chunk) return;
    const ok = out.write(chunk);
    chunk = '';
    if (!ok) await once(out, 'drain');
  };
  const emit = async (line: string) => {
    chunk += `${line}\n`;
    counts.lines++;
    if (chunk.length > 1 << 16) await flush();
  };

  for (let index = 1; index <= options.patients; index++) {
    for (const event of patientEvents(index, options, random)) {
      const line = JSON.stringify(event);
      if (random.chance(lateRate)) {
        late.push(line);
        counts.late++;
      } else {
        await emit(line);
      }
      if (random.chance(duplicateRate)) {
        await emit(line);
        counts.duplicates++;
      }
    }
    while (late.length > LATE_BUFFER || (late.length > 0 && random.chance(0.02))) {
      await emit(late.shift() as string);
    }
    if (options.onProgress && index % 1000 === 0 && index < options.patients)
      options.onProgress(index, counts.lines);
  }
  for (const line of late) await emit(line);
  await flush();
  options.onProgress?.(options.patients, counts.lines);
  return counts;
}
