/**
 * `npm run bench [-- --quick] [-- --only=<module>]`: runs every bench module (bench/*.bench.ts),
 * each case or scenario in its own process (so its peak memory is its own), writes
 * bench/results/<YYYY-MM-DD>.json and .md (`--quick`: <YYYY-MM-DD>-quick.*, never committed, so
 * the CI smoke test cannot overwrite the full results), and prints the Markdown tables.
 * `--quick` uses small inputs: the CI smoke test.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { CLI_KIND } from './support/services.js';
import type { BenchModule, BenchResult, ScenarioModule, ScenarioResult } from './types.js';

const run = promisify(execFile);
const benchDir = import.meta.dirname;
const quick = process.argv.includes('--quick');
const loadAtStart = loadavg();
const started = Date.now();
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);

const files = (await readdir(benchDir))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !only || only.split(',').some((o) => f.startsWith(`${o}.`)))
  .sort();

const results: BenchResult[] = [];
const scenarioResults: ScenarioResult[] = [];
const failures: string[] = [];
for (const file of files) {
  const path = join(benchDir, file);
  const mod = (await import(pathToFileURL(path).href)).default as BenchModule | ScenarioModule;
  const count = mod.kind === 'scenario' ? mod.scenarios.length : mod.cases.length;
  for (let i = 0; i < count; i++) {
    const args = ['--import', 'tsx', join(benchDir, 'run-case.ts'), path, String(i)];
    if (quick) args.push('--quick');
    if (mod.kind === 'scenario') {
      const scenario = mod.scenarios[i]!;
      if (quick && scenario.fullOnly) continue;
      const child = run(process.execPath, args, {
        maxBuffer: 1 << 22,
        timeout: quick ? 120_000 : scenario.timeoutMs,
        killSignal: 'SIGKILL',
      });
      child.child.stderr?.pipe(process.stderr);
      try {
        const { stdout } = await child;
        const parsed = JSON.parse(stdout.trim().split('\n').pop()!) as { scenarioResults: ScenarioResult[] };
        for (const r of parsed.scenarioResults) {
          scenarioResults.push(r);
          process.stderr.write(`${r.module}: ${r.case}: ${r.medianMs.toFixed(0)} ms\n`);
        }
      } catch (error) {
        const message = `${mod.name}/${scenario.name} failed: ${(error as Error).message.split('\n')[0]}`;
        failures.push(message);
        process.stderr.write(`${message}\n`);
      }
      continue;
    }
    const { stdout } = await run(process.execPath, args, { maxBuffer: 1 << 20 });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as BenchResult;
    results.push(result);
    process.stderr.write(`${result.module}: ${result.case}: ${result.medianMs.toFixed(0)} ms\n`);
  }
}

const date = new Date().toISOString().slice(0, 10);
const outDir = join(benchDir, 'results');
await mkdir(outDir, { recursive: true });
const stem = join(outDir, `${date}${quick ? '-quick' : ''}`);
// `--only` re-runs some modules: the other modules' figures of the same day's file are kept.
if (only) {
  try {
    const earlier = JSON.parse(await readFile(`${stem}.json`, 'utf8')) as {
      results?: BenchResult[];
      scenarioResults?: ScenarioResult[];
    };
    const rerun = new Set([...results.map((r) => r.module), ...scenarioResults.map((r) => r.module)]);
    results.unshift(...(earlier.results ?? []).filter((r) => !rerun.has(r.module)));
    scenarioResults.unshift(...(earlier.scenarioResults ?? []).filter((r) => !rerun.has(r.module)));
  } catch {
    // no earlier file for this day
  }
}
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GB, Node ${process.version}`;
const loadAtEnd = loadavg();
const fmt = (x: number | undefined, digits = 0) =>
  x === undefined
    ? ''
    : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const scenarioFigure = (r: ScenarioResult) =>
  r.p99Ms !== undefined
    ? `p50 ${fmt(r.p50Ms, 2)} ms, p99 ${fmt(r.p99Ms, 2)} ms`
    : r.rate !== undefined
      ? `${fmt(r.rate)} ${r.unit}/s (${fmt(r.medianMs / 1000, 1)} s)`
      : `${fmt(r.medianMs / 1000, 2)} s`;
const ceilingFigure = (r: ScenarioResult) =>
  !r.ceiling
    ? ''
    : r.ceiling.rate !== undefined
      ? `${r.ceiling.name}: ${fmt(r.ceiling.rate)} ${r.unit}/s (${fmt(r.ceiling.medianMs / 1000, 1)} s)`
      : `${r.ceiling.name}: ${fmt(r.ceiling.medianMs / 1000, 2)} s`;
const table = [
  `# Benchmarks ${date}${quick ? ' (quick)' : ''}`,
  '',
  `Machine: ${machine}. Load average (1 min) at start ${loadAtStart[0]!.toFixed(1)}, at end ${loadAtEnd[0]!.toFixed(1)}; ` +
    `total ${((Date.now() - started) / 60_000).toFixed(1)} min. survflow processes: ${CLI_KIND}.`,
  ...(only
    ? [
        '',
        `This run re-ran only \`--only=${only}\` (finished ${new Date().toISOString().slice(11, 16)} UTC); the load average and total ` +
          "above are this re-run's. The other modules' rows are kept from this day's earlier run; the figures this re-run " +
          'replaced are in the git history of this file.',
      ]
    : []),
  '',
  ...(scenarioResults.length
    ? [
        '## End to end (each beside its ceiling measured in the same run)',
        '',
        '| module | case | size | runs | figure | ceiling / floor | ratio | goal | met | peak RSS MB | notes |',
        '|---|---|---:|---:|---|---|---:|---|---|---:|---|',
        ...scenarioResults.map(
          (r) =>
            `| ${r.module} | ${r.case} | ${fmt(r.size)} ${r.unit} | ${r.runs} | ${scenarioFigure(r)} | ${ceilingFigure(r)} | ${r.ratio === undefined ? '' : fmt(r.ratio, 2)} | ${r.goal ?? ''} | ${r.goalMet === undefined ? '' : r.goalMet ? 'yes' : '**no**'} | ${r.peakRssMb === undefined ? '' : fmt(r.peakRssMb)} | ${r.notes ?? ''} |`,
        ),
        '',
      ]
    : []),
  ...(results.length
    ? [
        '## Functions (median of the timed runs after one warm-up; peak RSS of the process that ran the case)',
        '',
        '| module | case | rows | runs | median ms | min ms | max ms | median CPU ms | peak RSS MB |',
        '|---|---|---:|---:|---:|---:|---:|---:|---:|',
        ...results.map(
          (r) =>
            `| ${r.module} | ${r.case} | ${r.rows.toLocaleString('en-US')} | ${r.runs} | ${r.medianMs.toFixed(0)} | ${r.minMs.toFixed(0)} | ${r.maxMs.toFixed(0)} | ${r.medianCpuMs.toFixed(0)} | ${r.peakRssMb.toFixed(0)} |`,
        ),
        '',
      ]
    : []),
  ...(failures.length ? ['## Failed', '', ...failures.map((f) => `- ${f}`), ''] : []),
].join('\n');

await writeFile(
  `${stem}.json`,
  `${JSON.stringify(
    {
      date,
      quick,
      machine,
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadAtEnd,
      results,
      scenarioResults,
      failures,
    },
    null,
    2,
  )}\n`,
);
await writeFile(`${stem}.md`, table);
process.stdout.write(table);
if (failures.length) process.exitCode = 1;
