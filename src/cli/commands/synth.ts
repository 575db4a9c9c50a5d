import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import { clinicalDate } from '../../contract/events.js';
import { InputError } from '../../errors.js';
import { writeCohort } from '../../synth/write-cohort.js';

function positiveInteger(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new InputError(`${name} must be a positive integer, got ${value}`);
    return n;
  };
}

function date(name: string) {
  return (value: string) => {
    if (!clinicalDate.safeParse(value).success)
      throw new InputError(`${name} must be a date YYYY-MM-DD, got ${value}`);
    return value;
  };
}

export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description('write a synthetic cohort as contract NDJSON (about 15 events per patient), streamed')
    .requiredOption('--patients <n>', 'number of patients', positiveInteger('--patients'))
    .option('--seed <n>', 'PRNG seed (same seed, same file)', positiveInteger('--seed'), 1)
    .requiredOption('--out <file>', 'output file, or - for standard output')
    .option('--cutoff <date>', 'data cutoff: no event after it', date('--cutoff'), '2024-06-30')
    .option('--enrol-from <date>', 'first enrolment date', date('--enrol-from'), '2019-01-01')
    .option('--enrol-to <date>', 'last enrolment date', date('--enrol-to'), '2022-12-31')
    .action(
      async (options: {
        patients: number;
        seed: number;
        out: string;
        cutoff: string;
        enrolFrom: string;
        enrolTo: string;
      }) => {
        if (options.enrolTo < options.enrolFrom || options.cutoff < options.enrolTo) {
          throw new InputError('dates must satisfy --enrol-from <= --enrol-to <= --cutoff');
        }
        const toStdout = options.out === '-';
        const out = toStdout ? process.stdout : createWriteStream(options.out);
        const started = Date.now();
        const counts = await writeCohort(out, {
          ...options,
          onProgress: toStdout
            ? undefined
            : (done, lines) => {
                if (done % 100_000 === 0 || done === options.patients) {
                  process.stderr.write(`synth: ${done}/${options.patients} patients, ${lines} events\n`);
                }
              },
        });
        if (!toStdout) {
          out.end();
          await finished(out);
        }
        process.stderr.write(
          `synth: wrote ${counts.lines} lines for ${counts.patients} patients ` +
            `(${counts.duplicates} duplicate re-deliveries, ${counts.late} late) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
        );
      },
    );
}
