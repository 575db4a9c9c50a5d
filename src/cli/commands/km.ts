import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { parseSurvivalCsv } from '../../io/survival-csv.js';
import { analyzeSurvival } from '../../stats/index.js';
import type { ConfType, GroupSummary, SurvivalAnalysis } from '../../stats/types.js';

type KmOptions = { csv: string; confType: string; times: string; confLevel: string; json?: boolean };

const CONF_TYPES: readonly ConfType[] = ['log', 'log-log', 'plain'];

export function registerKm(program: Command): void {
  program
    .command('km')
    .description('Kaplan-Meier estimates, log-rank test and Cox HR from a group,time,event CSV (no services)')
    .requiredOption('--csv <file>', 'CSV with columns group,time,event (event: 1 death, 0 censored)')
    .option('--conf-type <type>', 'pointwise CI of S(t): log, log-log or plain', 'log')
    .option('--times <list>', 'comma-separated times for survival estimates', '12,24,36')
    .option('--conf-level <level>', 'confidence level', '0.95')
    .option('--json', 'print one JSON object (SPEC section 8) instead of a table')
    .action(async (options: KmOptions) => {
      const confType = parseConfType(options.confType);
      const times = parseTimes(options.times);
      const confLevel = parseConfLevel(options.confLevel);
      let text: string;
      try {
        text = await readFile(options.csv, 'utf8');
      } catch (error) {
        throw new InputError(`cannot read ${options.csv}: ${(error as Error).message}`, { cause: error });
      }
      const rows = parseSurvivalCsv(text, options.csv);
      const result = analyzeSurvival(rows, { confType, times, confLevel });
      process.stdout.write(
        options.json ? `${JSON.stringify(result, null, 2)}\n` : formatKmTable(result, confLevel),
      );
    });
}

function parseConfType(value: string): ConfType {
  if ((CONF_TYPES as readonly string[]).includes(value)) return value as ConfType;
  throw new InputError(`--conf-type must be one of ${CONF_TYPES.join(', ')}, got "${value}"`);
}

function parseTimes(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const times = parts.map(Number);
  if (parts.some((p) => p === '') || times.some((t) => !Number.isFinite(t) || t < 0))
    throw new InputError(`--times must be comma-separated numbers >= 0, got "${value}"`);
  return times;
}

function parseConfLevel(value: string): number {
  const level = Number(value);
  if (!(level > 0 && level < 1)) throw new InputError(`--conf-level must be between 0 and 1, got "${value}"`);
  return level;
}

const fmtTime = (x: number | null): string => (x === null ? 'NR' : String(Number(x.toFixed(2))));
const fmtProb = (x: number | null): string => (x === null ? 'NA' : x.toFixed(3));
const fmtP = (p: number | null): string =>
  p === null ? 'NA' : p < 0.0001 ? p.toExponential(2) : p.toFixed(4);

function groupCells(g: GroupSummary): string[] {
  return [
    g.group,
    String(g.n),
    String(g.events),
    `${fmtTime(g.median)} (${fmtTime(g.medianLower)}-${fmtTime(g.medianUpper)})`,
    ...g.survival.map(
      (s) => `${fmtProb(s.surv)} (${fmtProb(s.lower)}-${fmtProb(s.upper)})${s.inRange ? '' : '*'}`,
    ),
  ];
}

/** The readable `survflow km` output: an aligned table, then the tests. */
export function formatKmTable(result: SurvivalAnalysis, confLevel = 0.95): string {
  const pct = `${Number((confLevel * 100).toFixed(4))}%`;
  const header = [
    'group',
    'n',
    'events',
    `median (${pct} CI)`,
    ...result.overall.survival.map((s) => `S(${s.time}) (${pct} CI)`),
  ];
  const rows = [header, ...result.groups.map(groupCells), groupCells(result.overall)];
  const widths = header.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  out.push('', 'NR = not reached; * = after the last observed time (S carried forward).');
  if (result.logRank) {
    const lr = result.logRank;
    out.push(`Log-rank: chi-square ${lr.chisq.toFixed(3)} on ${lr.df} df, p = ${fmtP(lr.p)}`);
  }
  if (result.cox) {
    const c = result.cox;
    const f = (x: number | null) => (x === null ? 'NA' : x.toFixed(3));
    out.push(
      `Cox (Efron): HR ${c.group} vs ${c.reference} = ${f(c.hr)} (${pct} CI ${f(c.lower)}-${f(c.upper)}), p = ${fmtP(c.p)}`,
    );
  }
  return `${out.join('\n')}\n`;
}
