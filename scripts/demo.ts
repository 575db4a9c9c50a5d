/**
 * `npm run demo`: the 73-patient example end to end with the real CLI, as an operator would run
 * it against the configured PostgreSQL and Redis: migrate, start a worker, ingest the example,
 * recompute at the example's cutoff, print the summary table, then the medians beside the
 * paper's. Uses the built CLI (`npm run demo` builds first).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DATA_CUTOFF, PAPER_MEDIAN_MONTHS } from '../examples/generate-escc-73.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const example = 'examples/escc-73.ndjson';

function step(title: string): void {
  process.stdout.write(`\n\x1b[1m== ${title}\x1b[0m\n`);
}

async function survflow(args: string[], capture = false): Promise<string> {
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: root,
    stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`survflow ${args.join(' ')} exited with ${code}`);
  return out;
}

type Summary = {
  grouping: string;
  group: string;
  n: number | null;
  median: number | null;
  medianLower: number | null;
  medianUpper: number | null;
};

const fmt = (x: number | null) => (x === null ? 'NR' : x.toFixed(1));

step('survflow migrate');
await survflow(['migrate']);

step('survflow worker (in the background; its JSON log goes to demo-worker.log)');
const log = createWriteStream(`${root}/demo-worker.log`);
const worker = spawn(process.execPath, [cli, 'worker'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
worker.stdout.pipe(log);
worker.stderr.pipe(log);
const workerExited = new Promise<number | null>((resolve) => worker.on('exit', resolve));

try {
  step(`survflow ingest ${example} --wait`);
  await survflow(['ingest', example, '--wait']);

  step(`survflow recompute --cutoff ${DATA_CUTOFF} --wait`);
  await survflow(['recompute', '--cutoff', DATA_CUTOFF, '--wait']);

  step('survflow summary');
  await survflow(['summary']);

  step('medians beside the paper (Yu et al., BMC Cancer 25:1484, 2025)');
  const document = JSON.parse(await survflow(['summary', '--format', 'json'], true)) as {
    summaries: Summary[];
  };
  const rows: [string, Summary | undefined, number][] = [
    [
      'local radiotherapy: yes',
      document.summaries.find((s) => s.grouping === 'radiotherapy' && s.group === 'yes'),
      PAPER_MEDIAN_MONTHS['rt:yes'],
    ],
    [
      'local radiotherapy: no',
      document.summaries.find((s) => s.grouping === 'radiotherapy' && s.group === 'no'),
      PAPER_MEDIAN_MONTHS['rt:no'],
    ],
    [
      'cycles 1-6',
      document.summaries.find((s) => s.grouping === 'cycles' && s.group === '1-6'),
      PAPER_MEDIAN_MONTHS['cycles:1-6'],
    ],
    [
      'cycles 7-12',
      document.summaries.find((s) => s.grouping === 'cycles' && s.group === '7-12'),
      PAPER_MEDIAN_MONTHS['cycles:7-12'],
    ],
    [
      'cycles >12',
      document.summaries.find((s) => s.grouping === 'cycles' && s.group === '>12'),
      PAPER_MEDIAN_MONTHS['cycles:>12'],
    ],
  ];
  const lines = [['group', 'n', 'survflow median OS, months (95% CI)', 'paper', 'match']];
  let allMatch = true;
  for (const [label, summary, paper] of rows) {
    const median = summary?.median ?? null;
    const match = median !== null && Math.abs(Math.round(median * 10) / 10 - paper) < 1e-9;
    allMatch &&= match;
    lines.push([
      label,
      String(summary?.n ?? '-'),
      `${fmt(median)} (${fmt(summary?.medianLower ?? null)}-${fmt(summary?.medianUpper ?? null)})`,
      paper.toFixed(1),
      match ? 'yes' : 'NO',
    ]);
  }
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  for (const line of lines) process.stdout.write(`${line.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
  process.stdout.write(
    allMatch ? '\nAll five medians reproduce the paper.\n' : '\nSome medians differ from the paper.\n',
  );
  if (!allMatch) process.exitCode = 1;
} finally {
  worker.kill('SIGTERM');
  await workerExited;
  log.end();
}
