/**
 * The constant-rate generator in a process of its own, as wrk2 or autocannon's CLI would be.
 *
 * Why: the generator's latency figures include its own stalls (it measures from each request's
 * due time). Run inside the bench process, it shares a heap with everything the bench set up
 * (a synthetic cohort, database clients, earlier modules' results); that heap's garbage
 * collections run on both cores for milliseconds at a time and stalled the generator and the
 * API together: p99 12-19 ms in process against 2.5-3.8 ms from a separate process, the same
 * API on the same machine minutes apart (2026-11-27). A fresh process holds only the sockets
 * and the latency arrays.
 *
 * Run as a script, it takes the options as JSON in its first argument and prints the result as
 * JSON on stdout.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type ConstantRateOptions, type ConstantRateResult, constantRateLoad } from './constant-rate-load.js';

const SCRIPT = fileURLToPath(import.meta.url);

/** `constantRateLoad(options)` in a child process (the bench's own loader flags, tsx, carried over). */
export async function constantRateLoadInChild(options: ConstantRateOptions): Promise<ConstantRateResult> {
  const child = spawn(process.execPath, [...process.execArgv, SCRIPT, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) {
    throw new Error(`bench: the load generator exited with code ${code}: ${stderr.trim().slice(-2000)}`);
  }
  return JSON.parse(stdout) as ConstantRateResult;
}

if (process.argv[1] === SCRIPT) {
  const options = JSON.parse(process.argv[2] ?? '') as ConstantRateOptions;
  process.stdout.write(JSON.stringify(await constantRateLoad(options)));
}
