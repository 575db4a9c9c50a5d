#!/usr/bin/env node
import { Command } from 'commander';
import { registerCommands } from './commands/index.js';
import { runCli } from './run-cli.js';

const program = new Command()
  .name('survflow')
  .description('Oncology real-world-evidence ingestion and Kaplan-Meier survival summaries')
  .showHelpAfterError();

await registerCommands(program, process.argv);

await runCli(program, process.argv);
