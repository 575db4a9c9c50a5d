import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { createDatabase } from '../../db/connection.js';
import { InputError, NotFoundError } from '../../errors.js';
import { loadRunReport } from '../../report/load-run-report.js';
import { renderRunPlot } from '../../report/run-plot.js';

export function registerPlot(program: Command): void {
  program
    .command('plot')
    .description('write the Kaplan-Meier plot (SVG) of one grouping of the latest (or a given) published run')
    .requiredOption(
      '--grouping <name>',
      'overall | radiotherapy | cycles | radiotherapy_cycles | cycles_landmark | ...',
    )
    .requiredOption('--out <file>', 'the SVG file to write')
    .option('--run <id>', 'a published run id (default: the latest)')
    .option('--ci', 'draw the pointwise 95% confidence bands', false)
    .action(async (options: { grouping: string; out: string; run?: string; ci: boolean }) => {
      const config = loadConfig();
      const db = createDatabase({ url: config.databaseUrl, poolMax: 2, applicationName: 'survflow-plot' });
      try {
        const document = await loadRunReport(db, options.run).catch(asInputError);
        const svg = renderRunPlot(document, options.grouping, { ci: options.ci });
        await writeFile(options.out, svg, 'utf8');
        process.stdout.write(`wrote ${options.out} (${options.grouping}, run ${document.run.id})\n`);
      } finally {
        await db.destroy();
      }
    });
}

/** "No such run" is the user's input, not a failure of survflow (exit code 2). */
export function asInputError(error: unknown): never {
  if (error instanceof NotFoundError) throw new InputError(error.message, { cause: error });
  throw error;
}
