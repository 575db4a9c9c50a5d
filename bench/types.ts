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
