import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { createDatabase } from '../../db/connection.js';
import { loadRunReport } from '../../report/load-run-report.js';
import { renderRunReportHtml } from '../../report/report-html.js';
import { asInputError } from './plot.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'write one self-contained HTML report (tables and plots) of the latest (or a given) published run',
    )
    .requiredOption('--out <file>', 'the HTML file to write')
    .option('--run <id>', 'a published run id (default: the latest)')
    .action(async (options: { out: string; run?: string }) => {
      const config = loadConfig();
      const db = createDatabase({ url: config.databaseUrl, poolMax: 2, applicationName: 'survflow-report' });
      try {
        const document = await loadRunReport(db, options.run).catch(asInputError);
        await writeFile(options.out, renderRunReportHtml(document), 'utf8');
        process.stdout.write(
          `wrote ${options.out} (run ${document.run.id}, cutoff ${document.run.cutoff})\n`,
        );
      } finally {
        await db.destroy();
      }
    });
}
