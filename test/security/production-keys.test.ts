import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('keys in production', () => {
  it('NODE_ENV=production without the keys refuses to start, naming both', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(
      /PSEUDONYM_KEY: is required when NODE_ENV=production[\s\S]*REJECTED_BODY_KEY: is required/,
    );
    expect(() => loadConfig({ NODE_ENV: 'production', PSEUDONYM_KEY: 'a-long-enough-secret-key' })).toThrow(
      /REJECTED_BODY_KEY: is required/,
    );
    // Empty counts as unset: no silent default.
    expect(() => loadConfig({ NODE_ENV: 'production', PSEUDONYM_KEY: '', REJECTED_BODY_KEY: '' })).toThrow(
      /PSEUDONYM_KEY/,
    );
  });

  it('with both keys it starts without development keys; weak keys are refused', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PSEUDONYM_KEY: 'a-long-enough-secret-key',
      REJECTED_BODY_KEY: 'ab'.repeat(32),
    });
    expect(config.usesDevelopmentKeys).toBe(false);
    expect(config.rejectedBodyKey.toString('hex')).toBe('ab'.repeat(32));
    expect(() =>
      loadConfig({ NODE_ENV: 'production', PSEUDONYM_KEY: 'short', REJECTED_BODY_KEY: 'ab'.repeat(32) }),
    ).toThrow(/PSEUDONYM_KEY: must be at least 16 characters/);
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        PSEUDONYM_KEY: 'a-long-enough-secret-key',
        REJECTED_BODY_KEY: 'ab',
      }),
    ).toThrow(/REJECTED_BODY_KEY: must be 32 bytes/);
  });

  it('a config error does not print the key values', () => {
    try {
      loadConfig({
        NODE_ENV: 'production',
        PSEUDONYM_KEY: 'short-secret',
        REJECTED_BODY_KEY: 'zz-secret-value',
      });
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain('short-secret');
      expect(String(error)).not.toContain('zz-secret-value');
    }
  });
});
