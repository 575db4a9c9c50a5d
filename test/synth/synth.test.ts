import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { validateEvent } from '../../src/contract/events.js';
import { writeCohort } from '../../src/synth/write-cohort.js';

async function synth(patients: number, seed: number): Promise<string[]> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  await writeCohort(out, {
    patients,
    seed,
    cutoff: '2024-06-30',
    enrolFrom: '2019-01-01',
    enrolTo: '2022-12-31',
  });
  out.end();
  return Buffer.concat(chunks).toString('utf8').trimEnd().split('\n');
}

describe('synthetic cohort', () => {
  it('is reproducible from its seed and differs between seeds', async () => {
    const [a, b, c] = await Promise.all([synth(200, 42), synth(200, 42), synth(200, 43)]);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('writes only valid contract events, about 15 per patient, none after the cutoff', async () => {
    const lines = await synth(1_000, 1);
    const patients = new Set<string>();
    const keys = new Map<string, string>();
    let duplicates = 0;
    for (const line of lines) {
      const result = validateEvent(JSON.parse(line));
      if (!result.ok) throw new Error(`invalid synthetic event: ${JSON.stringify(result.reasons)}`);
      expect(result.event.occurredOn <= '2024-06-30').toBe(true);
      patients.add(result.event.patientId);
      const key = `${result.event.source}/${result.event.eventId}`;
      const seen = keys.get(key);
      if (seen !== undefined) {
        // A repeated key is always an identical re-delivery, never a conflict.
        expect(seen).toBe(line);
        duplicates++;
      }
      keys.set(key, line);
    }
    expect(patients.size).toBe(1_000);
    expect(lines.length / patients.size).toBeGreaterThan(10);
    expect(lines.length / patients.size).toBeLessThan(22);
    expect(duplicates).toBeGreaterThan(0);
    const types = new Set(lines.map((line) => (JSON.parse(line) as { type: string }).type));
    expect([...types].sort()).toEqual([
      'death.recorded',
      'followup.contact',
      'immunotherapy.cycle',
      'patient.registered',
      'radiotherapy.course',
    ]);
  });
});
