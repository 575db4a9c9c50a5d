import * as crypto from 'node:crypto';

/**
 * HMAC-SHA256 (RFC 2104) of UTF-8 text, hex, for one key used millions of times: the ingest
 * worker computes one per event. `createHmac` builds a C++ HMAC object and copies its digest into
 * a Buffer for every call, which costs several times the hashing itself. Here the key is padded
 * once and each message takes two one-shot `crypto.hash` calls:
 *   inner = SHA256((K ^ ipad) || message),  HMAC = SHA256((K ^ opad) || inner).
 * The inner pad is prefixed as text, which is byte-exact only when every pad byte is ASCII (an
 * ASCII key of at most 64 bytes, the usual configuration); any other key uses `createHmac`.
 * test/ingest/crypto.test.ts holds both paths equal to `createHmac`.
 */

const BLOCK_BYTES = 64;
const DIGEST_BYTES = 32;

export type HmacSha256Hex = (message: string) => string;

export function hmacSha256Hex(key: string): HmacSha256Hex {
  const keyBytes = Buffer.from(key, 'utf8');
  if (keyBytes.length > BLOCK_BYTES || keyBytes.some((b) => b > 0x7f)) {
    const keyObject = crypto.createSecretKey(keyBytes);
    return (message) => crypto.createHmac('sha256', keyObject).update(message, 'utf8').digest('hex');
  }
  const padded = Buffer.alloc(BLOCK_BYTES);
  keyBytes.copy(padded);
  const innerPad = Buffer.from(padded.map((b) => b ^ 0x36)).toString('latin1');
  // Outer block || inner digest, reused: the function is synchronous, so no call sees another's.
  const outer = Buffer.alloc(BLOCK_BYTES + DIGEST_BYTES);
  for (let i = 0; i < BLOCK_BYTES; i++) outer[i] = (padded[i] as number) ^ 0x5c;
  return (message) => {
    // A 'binary' (latin1) digest is one char per byte and, unlike a Buffer, costs no allocation.
    outer.write(crypto.hash('sha256', innerPad + message, 'binary'), BLOCK_BYTES, 'latin1');
    return crypto.hash('sha256', outer, 'hex');
  };
}
