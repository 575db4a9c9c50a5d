/**
 * `npm run bench [-- --quick]`: runs every bench module (bench/*.bench.ts), each case in its own
 * process (so its peak memory is its own), writes bench/results/<YYYY-MM-DD>.json and .md, and
 * prints the Markdown table. `--quick` uses small inputs: the CI smoke test.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { BenchModule, BenchResult } from './types.js';

const run = promisify(execFile);
const benchDir = import.meta.dirname;
const quick = process.argv.includes('--quick');
const loadAtStart = loadavg();
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);

const files = (await readdir(benchDir))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !only || f.startsWith(`${only}.`))
  .sort();

const results: BenchResult[] = [];
for (const file of files) {
  const path = join(benchDir, file);
  const mod = (await import(pathToFileURL(path).href)).default as BenchModule;
  for (let i = 0; i < mod.cases.length; i++) {
    const args = ['--import', 'tsx', join(benchDir, 'run-case.ts'), path, String(i)];
    if (quick) args.push('--quick');
    const { stdout } = await run(process.execPath, args, { maxBuffer: 1 << 20 });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as BenchResult;
    results.push(result);
    process.stderr.write(`${result.module}: ${result.case}: ${result.medianMs.toFixed(0)} ms\n`);
  }
}

const date = new Date().toISOString().slice(0, 10);
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GB, Node ${process.version}`;
const table = [
  `# Benchmarks ${date}${quick ? ' (quick)' : ''}`,
  '',
  `Machine: ${machine}. Median of the timed runs after one warm-up (wall and CPU time); peak RSS of the process that ran the case. Load average (1 min) at start: ${loadAtStart[0]!.toFixed(1)}.`,
  '',
  '| module | case | rows | runs | median ms | min ms | max ms | median CPU ms | peak RSS MB |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ...results.map(
    (r) =>
      `| ${r.module} | ${r.case} | ${r.rows.toLocaleString('en-US')} | ${r.runs} | ${r.medianMs.toFixed(0)} | ${r.minMs.toFixed(0)} | ${r.maxMs.toFixed(0)} | ${r.medianCpuMs.toFixed(0)} | ${r.peakRssMb.toFixed(0)} |`,
  ),
  '',
].join('\n');

const outDir = join(benchDir, 'results');
await mkdir(outDir, { recursive: true });
const stem = join(outDir, `${date}${quick ? '-quick' : ''}`);
await writeFile(
  `${stem}.json`,
  `${JSON.stringify({ date, quick, machine, loadAverageAtStart: loadAtStart, results }, null, 2)}\n`,
);
await writeFile(`${stem}.md`, table);
process.stdout.write(table);
