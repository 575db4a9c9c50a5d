/**
 * Runs one case of one bench module in this (fresh) process and prints its result as JSON, so the
 * peak RSS belongs to that case alone. Used by bench/run.ts.
 *   node --import tsx bench/run-case.ts <module file> <case index> [--quick]
 */
import { pathToFileURL } from 'node:url';
import type { BenchModule, BenchResult } from './types.js';

const [file, indexText] = process.argv.slice(2);
const quick = process.argv.includes('--quick');
const mod = (await import(pathToFileURL(file!).href)).default as BenchModule;
const benchCase = mod.cases[Number(indexText)]!;
const rows = quick ? mod.rows.quick : mod.rows.full;
const runs = quick ? 3 : 7;

const input = benchCase.setup(rows);
benchCase.run(input); // warm-up: JIT, lazy module initialisation
const times: number[] = [];
const cpu: number[] = [];
for (let i = 0; i < runs; i++) {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  benchCase.run(input);
  times.push(performance.now() - start);
  const used = process.cpuUsage(cpuStart);
  cpu.push((used.user + used.system) / 1000);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const heapUsedMb = process.memoryUsage().heapUsed / 2 ** 20;
const sorted = [...times].sort((a, b) => a - b);
const result: BenchResult = {
  module: mod.name,
  case: benchCase.name,
  rows,
  runs,
  medianMs: median(times),
  medianCpuMs: median(cpu),
  minMs: sorted[0]!,
  maxMs: sorted[sorted.length - 1]!,
  peakRssMb: process.resourceUsage().maxRSS / 1024,
  heapUsedMb,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
