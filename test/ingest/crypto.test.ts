import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SORTED_PAYLOAD_FIELDS } from '../../src/contract/events.js';
import { hmacSha256Hex } from '../../src/crypto/hmac-sha256.js';
import { canonicalJson, canonicalJsonOfFlat, contentHash, patientKey } from '../../src/crypto/pseudonym.js';
import { decryptRawBody, encryptRawBody } from '../../src/crypto/raw-body-cipher.js';
import { VALID_PAYLOADS } from '../support/events.js';

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

  it('canonical JSON of any JSON value is the plain recursive definition', () => {
    const reference = (value: unknown): string => {
      if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
      if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
      const record = value as Record<string, unknown>;
      const fields = Object.keys(record)
        .sort()
        .filter((key) => record[key] !== undefined)
        .map((key) => `${JSON.stringify(key)}:${reference(record[key])}`);
      return `{${fields.join(',')}}`;
    };
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: 1000 },
    );
    expect(canonicalJson({ b: 1, a: 'x', __proto__x: null, '10': true, '9': false })).toBe(
      '{"10":true,"9":false,"__proto__x":null,"a":"x","b":1}',
    );
    expect(canonicalJson(JSON.parse('{"__proto__":1,"a":2}'))).toBe('{"__proto__":1,"a":2}');
  });

  it('canonical JSON of a flat record with known sorted keys is the general one, or falls back to it', () => {
    const keys = ['a', 'b', 'c', 'z', 'é']; // sorted by UTF-16 code units
    const primitive = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...keys), primitive),
        fc.option(fc.tuple(fc.constantFrom('y', 'aa', '__proto__'), fc.oneof(primitive, fc.jsonValue()))),
        fc.option(fc.tuple(fc.constantFrom(...keys), fc.jsonValue())),
        (record, extra, nested) => {
          if (extra) Object.defineProperty(record, extra[0], { value: extra[1], enumerable: true });
          if (nested) record[nested[0]] = nested[1] as never;
          expect(canonicalJsonOfFlat(record, keys)).toBe(canonicalJson(record));
        },
      ),
      { numRuns: 2000 },
    );
    for (const [type, payload] of Object.entries(VALID_PAYLOADS)) {
      const sorted = SORTED_PAYLOAD_FIELDS[type as keyof typeof VALID_PAYLOADS];
      expect([...sorted].sort()).toEqual(sorted);
      expect(canonicalJsonOfFlat(payload, sorted)).toBe(canonicalJson(payload));
    }
  });

  it('the content hash ignores key order but not content', () => {
    const reordered = { ...content, payload: { agent: 'x', cycleNumber: 2, line: 1 } };
    expect(contentHash('k'.repeat(16), reordered)).toBe(contentHash('k'.repeat(16), content));
    expect(contentHash('k'.repeat(16), { ...content, occurredOn: '2020-01-02' })).not.toBe(
      contentHash('k'.repeat(16), content),
    );
  });

  it('the content hash is the HMAC of the generic canonical JSON of the five content fields', () => {
    const key = 'k'.repeat(16);
    const text = fc.string({ unit: 'grapheme', maxLength: 20 });
    fc.assert(
      fc.property(
        fc.record({
          type: text,
          schemaVersion: fc.integer(),
          patientId: text,
          occurredOn: text,
          payload: fc.dictionary(
            text,
            fc.oneof(text, fc.integer(), fc.double({ noNaN: true }), fc.boolean()),
          ),
        }),
        (content) => {
          const expected = createHmac('sha256', key).update(canonicalJson(content), 'utf8').digest('hex');
          expect(contentHash(key, content)).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('hmacSha256Hex', () => {
  const reference = (key: string, message: string) =>
    createHmac('sha256', key).update(message, 'utf8').digest('hex');

  it('equals createHmac for ASCII keys up to one block (the one-shot path) and any text', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
          maxLength: 64,
        }),
        fc.array(fc.string({ unit: 'binary', maxLength: 300 }), { minLength: 1, maxLength: 5 }),
        (key, messages) => {
          const hmac = hmacSha256Hex(key);
          for (const message of messages) expect(hmac(message)).toBe(reference(key, message));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('equals createHmac for long and non-ASCII keys (the createHmac path)', () => {
    for (const key of ['x'.repeat(65), 'y'.repeat(200), 'schlüssel-ü-0123456789', '鍵'.repeat(30)]) {
      const hmac = hmacSha256Hex(key);
      for (const message of ['', 'MRN-4711', 'ü ✓ 😀', 'z'.repeat(1000)]) {
        expect(hmac(message)).toBe(reference(key, message));
      }
    }
  });
});
