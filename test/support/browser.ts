import { existsSync } from 'node:fs';

/**
 * Headless Chromium for end-to-end tests: Debian's `chromium` package driven by playwright-core
 * (never a downloaded browser). `.ci/run` installs the package when it is missing.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** True under continuous integration (CI set to anything but empty, "0" or "false"). */
export function runningInCi(value: string | undefined): boolean {
  // Test support may read the environment; application code gets it through src/config.ts.
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

/**
 * Why browser tests cannot run here, or null when they must run. They are skipped only on a
 * developer machine without the package; in CI a missing browser fails the test instead.
 */
export function browserSkipReason(
  executable: string = CHROMIUM_PATH,
  inCi: boolean = runningInCi(process.env.CI),
): string | null {
  if (existsSync(executable) || inCi) return null;
  return `${executable} not found: install Debian's chromium (apt-get install -y chromium) to run the browser tests`;
}
