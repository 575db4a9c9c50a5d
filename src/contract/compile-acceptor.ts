import type { z } from 'zod';
import { util } from 'zod/v4/core';

/**
 * A zod schema compiled once into a test that says "valid, and parsing returns the input
 * unchanged", allocating nothing. The ingest worker validates every event: zod's parse builds a
 * payload object per field, an issues array per value and a copy of every object, and that
 * garbage (and zod's generic dispatch) was a large share of the worker's time; valid input is
 * the common case.
 *
 * Supported: objects (every declared key present unless optional, no other key, object-level
 * checks), optional and nullable fields, arrays, discriminated unions on a literal tag, and
 * string / number / boolean / enum / literal fields. A field's checks become plain code where
 * their zod 4 semantics are simple (max length in code points, regex, refinement, safe integer,
 * bounds); any other check kind runs as zod's own check object on one reused payload. Anything
 * else in a schema (records, tuples, untagged unions, transforms, defaults, pipes, coercion,
 * ...) makes `compileAcceptor`
 * return null. A value it is unsure of gets `false`: the caller then parses with zod, which
 * decides and names the reasons. So `true` must mean exactly "zod succeeds and its data equals
 * the input", and the acceptor is only ever a faster way to the same answer;
 * test/contract/compile-acceptor.test.ts holds it to that against zod on generated inputs near
 * every boundary of the contract.
 */

export type Acceptor = (value: unknown) => boolean;

type Internals = {
  values?: Set<unknown>;
  def: {
    type: string;
    coerce?: boolean;
    shape?: Record<string, z.ZodType>;
    catchall?: z.ZodType;
    checks?: CheckInternals[];
    innerType?: z.ZodType;
    element?: z.ZodType;
    options?: z.ZodType[];
    discriminator?: string;
    unionFallback?: boolean;
    values?: unknown[];
  };
};
type CheckInternals = {
  _zod: {
    def: {
      check: string;
      when?: (payload: Payload) => boolean;
      maximum?: number;
      format?: string;
      pattern?: RegExp;
      fn?: (value: unknown) => unknown;
      value?: unknown;
      inclusive?: boolean;
    };
    check: (payload: Payload) => unknown;
  };
};
type Payload = { value: unknown; issues: unknown[] };

const internals = (schema: z.ZodType) => (schema as unknown as { _zod: Internals })._zod;

type Test = (value: never) => boolean;

/**
 * A field check as plain code, with zod's own semantics (checks.ts of zod 4: lengths count code
 * points, a regex is reset before testing, a refinement passes when its result is truthy), or
 * null for a check kind not listed (then zod's own check object runs).
 */
function checkAsCode(check: CheckInternals): Test | null {
  const def = check._zod.def;
  switch (def.check) {
    case 'max_length': {
      const max = def.maximum as number;
      return (value: string) => value.length <= max || util.codePointLength(value) <= max;
    }
    case 'string_format': {
      const pattern = def.pattern;
      if (def.format !== 'regex' || !pattern) return null;
      return (value: string) => {
        pattern.lastIndex = 0;
        return pattern.test(value);
      };
    }
    case 'custom': {
      const fn = def.fn as (value: unknown) => unknown;
      return (value: unknown) => {
        const result = fn(value);
        return !(result instanceof Promise) && Boolean(result);
      };
    }
    case 'number_format':
      return def.format === 'safeint' ? (value: number) => Number.isSafeInteger(value) : null;
    case 'greater_than': {
      const bound = def.value as number;
      return def.inclusive ? (value: number) => value >= bound : (value: number) => value > bound;
    }
    case 'less_than': {
      const bound = def.value as number;
      return def.inclusive ? (value: number) => value <= bound : (value: number) => value < bound;
    }
    default:
      return null;
  }
}

/** What zod's own type test of a leaf accepts, before its checks (schemas.ts of zod 4). */
function leafType(zod: Internals): Test | null {
  const { def } = zod;
  if (def.coerce) return null;
  switch (def.type) {
    case 'string':
      return (value: unknown) => typeof value === 'string';
    case 'number':
      return (value: unknown) => typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return (value: unknown) => typeof value === 'boolean';
    case 'enum':
    case 'literal': {
      const values = zod.values;
      return values ? (value: unknown) => values.has(value) : null;
    }
    default:
      return null;
  }
}

export function compileAcceptor(schema: z.ZodType): Acceptor | null {
  const payload: Payload = { value: undefined, issues: [] };
  // A check kind without plain code: zod's check object, on one reused payload.
  const zodCheck =
    (check: CheckInternals): Test =>
    (value: unknown) => {
      payload.value = value;
      payload.issues.length = 0;
      const result = check._zod.check(payload);
      return !(result instanceof Promise) && payload.issues.length === 0 && payload.value === value;
    };
  // A check runs only where its `when` says so (zod's length checks ask whether the value has a
  // length at all), as in zod's runChecks.
  const compileCheck = (check: CheckInternals, asCode = true): Test => {
    const test = (asCode ? checkAsCode(check) : null) ?? zodCheck(check);
    const { when } = check._zod.def;
    if (!when) return test;
    return (value: never) => {
      payload.value = value;
      payload.issues.length = 0;
      return !when(payload) || test(value);
    };
  };

  const compile = (node: z.ZodType): Acceptor | null => {
    const zod = internals(node);
    const { def } = zod;
    const isType = leafType(zod);
    if (isType) {
      const checks = (def.checks ?? []).map((check) => compileCheck(check));
      if (checks.length === 0) return isType as Acceptor;
      return (value) => {
        if (!isType(value as never)) return false;
        for (const check of checks) if (!check(value as never)) return false;
        return true;
      };
    }
    if (def.type === 'nullable' && def.innerType) {
      const inner = compile(def.innerType);
      return inner && ((value) => value === null || inner(value));
    }
    if (def.type === 'array' && def.element) {
      const element = compile(def.element);
      if (!element) return null;
      // Length checks of an array: zod's own check objects (their plain code is for strings).
      const checks = (def.checks ?? []).map((check) => compileCheck(check, false));
      return (value) => {
        if (!Array.isArray(value)) return false;
        for (const check of checks) if (!check(value as never)) return false;
        for (const item of value) if (!element(item)) return false;
        return true;
      };
    }
    if (def.type === 'object' && def.shape) {
      const fields: { key: string; accepts: Acceptor; optional: boolean }[] = [];
      for (const [key, field] of Object.entries(def.shape)) {
        const fieldDef = internals(field).def;
        const optional = fieldDef.type === 'optional';
        const accepts = compile(optional ? (fieldDef.innerType as z.ZodType) : field);
        if (!accepts) return null;
        fields.push({ key, accepts, optional });
      }
      const declared = new Set(fields.map((f) => f.key));
      const checks = (def.checks ?? []).map((check) => compileCheck(check));
      return (value) => {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
        const record = value as Record<string, unknown>;
        for (const field of fields) {
          // `in`, as zod asks whether a key is present.
          if (!(field.key in record)) {
            if (field.optional) continue;
            return false;
          }
          if (!field.accepts(record[field.key])) return false;
        }
        // `for...in`, as zod looks for undeclared keys (strict: an error; strip: dropped, so
        // the data would differ from the input).
        for (const key in record) if (!declared.has(key)) return false;
        for (const check of checks) if (!check(value as never)) return false;
        return true;
      };
    }
    if (def.type === 'union' && def.discriminator !== undefined && def.options && !def.unionFallback) {
      const discriminator = def.discriminator;
      const byValue = new Map<unknown, Acceptor>();
      for (const option of def.options) {
        const shape = internals(option).def.shape;
        const tag = shape?.[discriminator];
        const tagDef = tag ? internals(tag).def : undefined;
        const accepts = compile(option);
        if (!accepts || tagDef?.type !== 'literal' || !tagDef.values) return null;
        for (const tagValue of tagDef.values) {
          if (byValue.has(tagValue)) return null;
          byValue.set(tagValue, accepts);
        }
      }
      return (value) => {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
        const accepts = byValue.get((value as Record<string, unknown>)[discriminator]);
        return accepts?.(value) === true;
      };
    }
    return null;
  };
  return compile(schema);
}
