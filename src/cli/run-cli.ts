import type { Command } from 'commander';
import { ConfigError } from '../config.js';
import { InputError } from '../errors.js';

/** Exit codes: 0 ok, 1 failure, 2 usage or input error (bad file, bad option, bad config). */
export async function runCli(program: Command, argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof InputError || error instanceof ConfigError) {
      process.stderr.write(`survflow: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(
      `survflow: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    let cause = error instanceof Error ? error.cause : undefined;
    while (cause) {
      process.stderr.write(`  caused by: ${cause instanceof Error ? cause.message : String(cause)}\n`);
      cause = cause instanceof Error ? cause.cause : undefined;
    }
    process.exitCode = 1;
  }
}
