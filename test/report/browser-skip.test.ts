import { describe, expect, it } from 'vitest';
import { browserSkipReason, runningInCi } from '../support/browser.js';

describe('when the browser test may skip', () => {
  it('skips only without the executable and outside CI', () => {
    expect(browserSkipReason('/nonexistent/chromium', false)).toMatch(
      /\/nonexistent\/chromium not found: install/,
    );
    expect(browserSkipReason('/nonexistent/chromium', true)).toBeNull(); // in CI it must run, and fail
    expect(browserSkipReason(process.execPath, false)).toBeNull(); // an existing executable
  });

  it('reads CI the way CI systems set it', () => {
    expect(runningInCi('true')).toBe(true);
    expect(runningInCi('1')).toBe(true);
    expect(runningInCi(undefined)).toBe(false);
    expect(runningInCi('')).toBe(false);
    expect(runningInCi('false')).toBe(false);
    expect(runningInCi('0')).toBe(false);
  });
});
