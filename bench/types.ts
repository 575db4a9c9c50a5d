/** The contract between `bench/run.ts` and a bench module (`bench/*.bench.ts`, default export). */

export type BenchCase = {
  name: string;
  /** Builds the input for `rows` rows; not timed. */
  setup: (rows: number) => unknown;
  /** The timed work. */
  run: (input: unknown) => void;
};

export type BenchModule = {
  name: string;
  kind?: 'function';
  /** Input size for a full run and for `--quick` (CI smoke test). */
  rows: { full: number; quick: number };
  cases: BenchCase[];
};

export type BenchResult = {
  module: string;
  case: string;
  rows: number;
  runs: number;
  medianMs: number;
  /** Median CPU time (user + system) of the runs: less sensitive than wall time to a busy machine. */
  medianCpuMs: number;
  minMs: number;
  maxMs: number;
  /** Peak resident set size of the process that ran this case alone (MB). */
  peakRssMb: number;
  /** Heap used right after the last run, before GC (MB). */
  heapUsedMb: number;
};

/**
 * End-to-end benches (services, several processes): each scenario runs in its own process,
 * sets up and tears down what it needs (a bench database, a queue prefix), measures itself and
 * reports one or more figures, each beside the ceiling measured in the same run where there is one.
 */
export type ScenarioModule = {
  name: string;
  kind: 'scenario';
  scenarios: Scenario[];
};

export type Scenario = {
  name: string;
  /** Wall-clock bound of the whole scenario (setup included) in a full run (ms). */
  timeoutMs: number;
  /** Skipped by `--quick` (it exercises no code path the other quick scenarios miss). */
  fullOnly?: boolean;
  run: (context: { quick: boolean; log: (line: string) => void }) => Promise<ScenarioResult[]>;
};

export type ScenarioResult = {
  module: string;
  case: string;
  /** Work done per run, in `unit` (events, patients, requests). */
  size: number;
  unit: string;
  runs: number;
  /** Median wall time of the runs (ms); for latency figures, the median latency. */
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** `unit` per second at the median, when throughput is the figure. */
  rate?: number;
  /** Latency percentiles (ms), when latency is the figure. */
  p50Ms?: number;
  p99Ms?: number;
  /** The ceiling (or floor) the figure is compared with, measured in the same run. */
  ceiling?: { name: string; medianMs: number; rate?: number };
  /** rate / ceiling rate (throughput; higher is better) or ms / floor ms (time; lower is better). */
  ratio?: number;
  goal?: string;
  goalMet?: boolean;
  /** Peak RSS of the process the figure is about (the worker, the server), MB. */
  peakRssMb?: number;
  notes?: string;
};
