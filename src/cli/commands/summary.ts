import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { createDatabase } from '../../db/connection.js';
import { InputError, NotFoundError } from '../../errors.js';
import { formatSummaryCsv } from '../../summaries/format-csv.js';
import { formatSummaryJson } from '../../summaries/format-json.js';
import { formatSummaryTable } from '../../summaries/format-table.js';
import { loadRunSummary } from '../../summaries/load-run-summary.js';

const FORMATS = ['table', 'json', 'csv'] as const;
type Format = (typeof FORMATS)[number];

export function registerSummary(program: Command): void {
  program
    .command('summary')
    .description("print the latest (or a given) published run's survival summaries, small cells suppressed")
    .option('--run <id>', 'a published run id (default: the latest)')
    .option('--format <format>', 'table | json | csv', 'table')
    .action(async (options: { run?: string; format: string }) => {
      if (!FORMATS.includes(options.format as Format)) {
        throw new InputError(`--format: expected one of ${FORMATS.join(', ')}, got ${options.format}`);
      }
      const config = loadConfig();
      const db = createDatabase({ url: config.databaseUrl, poolMax: 2, applicationName: 'survflow-summary' });
      try {
        const document = await loadRunSummary(db, options.run).catch((error: unknown) => {
          if (error instanceof NotFoundError) throw new InputError(error.message, { cause: error });
          throw error;
        });
        const format = options.format as Format;
        const text =
          format === 'json'
            ? formatSummaryJson(document)
            : format === 'csv'
              ? formatSummaryCsv(document)
              : formatSummaryTable(document);
        process.stdout.write(text);
      } finally {
        await db.destroy();
      }
    });
}
