import type { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Every CLI command, one module each, in the order `survflow --help` lists them. Modules load
 * on demand: `survflow km` needs neither the queue stack nor the HTTP server, and starting in
 * a fraction of a second matters to scripts that call the CLI in a loop.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  migrate: async () => (await import('./migrate.js')).registerMigrate,
  worker: async () => (await import('./worker.js')).registerWorker,
  ingest: async () => (await import('./ingest.js')).registerIngest,
  recompute: async () => (await import('./recompute.js')).registerRecompute,
  summary: async () => (await import('./summary.js')).registerSummary,
  km: async () => (await import('./km.js')).registerKm,
  plot: async () => (await import('./plot.js')).registerPlot,
  report: async () => (await import('./report.js')).registerReport,
  synth: async () => (await import('./synth.js')).registerSynth,
  api: async () => (await import('./api.js')).registerApi,
  sources: async () => (await import('./sources.js')).registerSources,
  rejected: async () => (await import('./rejected.js')).registerRejected,
  prune: async () => (await import('./prune.js')).registerPrune,
};

/**
 * Registers the command named in `argv` alone when it is one, and all of them otherwise (help,
 * `survflow help km`, a typo that commander should answer with the list).
 */
export async function registerCommands(program: Command, argv: readonly string[]): Promise<void> {
  const requested = argv[2];
  const names =
    requested !== undefined && Object.hasOwn(COMMANDS, requested) ? [requested] : Object.keys(COMMANDS);
  const registers = await Promise.all(names.map((name) => (COMMANDS[name] as () => Promise<Register>)()));
  for (const register of registers) register(program);
}
