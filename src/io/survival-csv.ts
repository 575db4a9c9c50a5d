/**
 * Parses `group,time,event` CSV text into survival rows (the input of `survflow km`). Columns may
 * come in any order (extra columns are ignored), fields may be quoted, line ends may be CRLF.
 * Every problem is an InputError naming the line and what is wrong.
 */
import { parse } from 'csv-parse/sync';
import { InputError } from '../errors.js';
import type { SurvivalRow } from '../stats/types.js';

const REQUIRED = ['group', 'time', 'event'] as const;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

type Record = { record: string[]; info: { lines: number } };

export function parseSurvivalCsv(text: string, source = 'input'): SurvivalRow[] {
  let records: Record[];
  try {
    records = parse(text, {
      bom: true,
      info: true,
      skip_empty_lines: true,
      relax_column_count: false,
    }) as unknown as Record[];
  } catch (error) {
    throw new InputError(
      `${source}: not valid CSV: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  }
  const header = records[0];
  if (!header) throw new InputError(`${source}: empty file (expected a header line group,time,event)`);
  const names = header.record.map((h) => h.trim().toLowerCase());
  const column = {} as { [K in (typeof REQUIRED)[number]]: number };
  for (const name of REQUIRED) {
    const i = names.indexOf(name);
    if (i < 0)
      throw new InputError(
        `${source}: line ${header.info.lines}: missing column "${name}" in header (found: ${header.record.join(',')})`,
      );
    column[name] = i;
  }
  if (records.length < 2) throw new InputError(`${source}: no data rows after the header`);
  const rows: SurvivalRow[] = new Array(records.length - 1);
  for (let r = 1; r < records.length; r++) {
    const { record, info } = records[r]!;
    const where = `${source}: line ${info.lines}`;
    const group = record[column.group]!.trim();
    if (group === '') throw new InputError(`${where}: empty group`);
    const timeText = record[column.time]!.trim();
    if (!DECIMAL.test(timeText)) {
      const kind = /^[+-]?(inf|infinity|nan)$/i.test(timeText) ? 'not a finite number' : 'not a number';
      throw new InputError(`${where}: time "${timeText}" is ${kind}`);
    }
    const time = Number(timeText);
    if (!Number.isFinite(time)) throw new InputError(`${where}: time "${timeText}" is not a finite number`);
    if (time < 0) throw new InputError(`${where}: time ${timeText} is negative`);
    const eventText = record[column.event]!.trim();
    if (eventText !== '0' && eventText !== '1')
      throw new InputError(`${where}: event "${eventText}" must be 0 (censored) or 1 (death)`);
    rows[r - 1] = { group, time, event: eventText === '1' ? 1 : 0 };
  }
  return rows;
}
