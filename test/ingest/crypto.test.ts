import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash, patientKey } from '../../src/crypto/pseudonym.js';
import { decryptRawBody, encryptRawBody } from '../../src/crypto/raw-body-cipher.js';

describe('raw body cipher (AES-256-GCM)', () => {
  const key = randomBytes(32);

  it('round-trips any text and lays out IV || tag || ciphertext', () => {
    const text = '{"patientId":"MRN-4711","note":"ü ✓"}';
    const sealed = encryptRawBody(key, text);
    expect(sealed.length).toBe(12 + 16 + Buffer.byteLength(text));
    expect(sealed.includes(Buffer.from('MRN-4711'))).toBe(false);
    expect(decryptRawBody(key, sealed)).toBe(text);
  });

  it('uses a fresh IV each time', () => {
    expect(encryptRawBody(key, 'same').equals(encryptRawBody(key, 'same'))).toBe(false);
  });

  it('fails on a wrong key or a tampered body instead of returning garbage', () => {
    const sealed = encryptRawBody(key, 'secret');
    expect(() => decryptRawBody(randomBytes(32), sealed)).toThrow();
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    expect(() => decryptRawBody(key, tampered)).toThrow();
    expect(() => decryptRawBody(key, sealed.subarray(0, 20))).toThrow(/truncated/);
    expect(() => encryptRawBody(randomBytes(16), 'x')).toThrow(/32 bytes/);
  });
});

describe('pseudonyms and content hashes', () => {
  const content = {
    type: 'immunotherapy.cycle',
    schemaVersion: 1,
    patientId: 'MRN-1',
    occurredOn: '2020-01-01',
    payload: { line: 1, cycleNumber: 2, agent: 'x' },
  };

  it('patient keys are keyed, deterministic, and independent of the source', () => {
    expect(patientKey('key-aaaaaaaaaaaaaaaa', 'MRN-1')).toBe(patientKey('key-aaaaaaaaaaaaaaaa', 'MRN-1'));
    expect(patientKey('key-aaaaaaaaaaaaaaaa', 'MRN-1')).not.toBe(patientKey('key-bbbbbbbbbbbbbbbb', 'MRN-1'));
    expect(patientKey('key-aaaaaaaaaaaaaaaa', 'MRN-1')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ y: 1, x: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[{"x":2,"y":1}]},"b":1}',
    );
  });

  it('the content hash ignores key order but not content', () => {
    const reordered = { ...content, payload: { agent: 'x', cycleNumber: 2, line: 1 } };
    expect(contentHash('k'.repeat(16), reordered)).toBe(contentHash('k'.repeat(16), content));
    expect(contentHash('k'.repeat(16), { ...content, occurredOn: '2020-01-02' })).not.toBe(
      contentHash('k'.repeat(16), content),
    );
  });
});
