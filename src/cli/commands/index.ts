import type { Command } from 'commander';
import { registerApi } from './api.js';
import { registerIngest } from './ingest.js';
import { registerKm } from './km.js';
import { registerMigrate } from './migrate.js';
import { registerRecompute } from './recompute.js';
import { registerRejected } from './rejected.js';
import { registerSources } from './sources.js';
import { registerSummary } from './summary.js';
import { registerSynth } from './synth.js';
import { registerWorker } from './worker.js';

/** Every CLI command, one module each. */
export function registerCommands(program: Command): void {
  registerMigrate(program);
  registerWorker(program);
  registerIngest(program);
  registerRecompute(program);
  registerSummary(program);
  registerKm(program);
  registerSynth(program);
  registerApi(program);
  registerSources(program);
  registerRejected(program);
}
