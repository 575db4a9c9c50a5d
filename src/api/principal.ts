import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticateApiKey, type Principal } from '../auth/api-keys.js';
import type { ApiScope } from '../db/database.js';
import type { ApiDeps } from './deps.js';
import { ReadAuthCache } from './read-auth-cache.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated key's source and scopes; set by the `authenticate` hook. */
    principal?: Principal;
    /** The request body as received (JSON, NDJSON and FHIR bodies), for hashing and splitting. */
    rawBody?: string;
  }
}

/**
 * The presented key: `Authorization: Bearer <key>`, `X-API-Key: <key>`, or the password of HTTP
 * Basic authentication (any user name), which lets a browser ask for it (report, dashboard).
 */
function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (bearer) return bearer[1];
    const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
    if (basic) {
      const decoded = Buffer.from(basic[1] ?? '', 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon >= 0 ? decoded.slice(colon + 1) : '';
    }
    return '';
  }
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey.trim() : undefined;
}

/** One read-route authentication cache per server's dependencies (tests build several servers). */
const readAuthCaches = new WeakMap<ApiDeps, ReadAuthCache>();

function readAuthCacheOf(deps: ApiDeps): ReadAuthCache {
  let cache = readAuthCaches.get(deps);
  if (!cache) {
    cache = new ReadAuthCache((key) => authenticateApiKey(deps.db, key), {
      onRefreshError: (error) =>
        deps.logger.warn({ err: error }, 'refreshing a cached API-key authentication failed'),
    });
    readAuthCaches.set(deps, cache);
  }
  return cache;
}

export function requireScope(deps: ApiDeps, ...scopes: ApiScope[]) {
  return scopeHook(deps, scopes, false);
}

/**
 * requireScope for read-only routes served at high rates (GET summaries, runs): the key lookup is
 * cached (ReadAuthCache: a revoked key keeps reading for at most 5 s). Writes (intake) keep the
 * uncached check, so a revoked key stops writing at once.
 */
export function requireScopeForReads(deps: ApiDeps, ...scopes: ApiScope[]) {
  return scopeHook(deps, scopes, true);
}

/**
 * An onRequest hook: 401 without a valid, unrevoked key, 403 when the key lacks every one of
 * `scopes`. Runs before the body is read, so an unauthenticated client cannot make the server
 * buffer a large body, and before the per-key rate limit (a preHandler).
 */
function scopeHook(deps: ApiDeps, scopes: ApiScope[], cached: boolean) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const key = presentedKey(request);
    if (!key) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer, Basic realm="survflow", charset="UTF-8"')
        .send({
          error: 'unauthorized',
          message: 'an API key is required (Authorization: Bearer <key> or X-API-Key)',
        });
    }
    const result = cached ? await readAuthCacheOf(deps).check(key) : await authenticateApiKey(deps.db, key);
    if (!result.ok) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer error="invalid_token"')
        .send({ error: 'unauthorized', message: `API key refused: ${result.reason}` });
    }
    if (!scopes.some((scope) => result.principal.scopes.includes(scope))) {
      return reply.code(403).send({
        error: 'forbidden',
        message: `this key has scope(s) ${result.principal.scopes.join(', ')}; the route needs ${scopes.join(' or ')}`,
      });
    }
    request.principal = result.principal;
  };
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route registered without requireScope');
  return request.principal;
}
