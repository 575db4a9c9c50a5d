import type { Command } from 'commander';
import { registerMigrate } from './migrate.js';
import { registerSynth } from './synth.js';

/** Every CLI command, one module each. */
export function registerCommands(program: Command): void {
  registerMigrate(program);
  registerSynth(program);
}
