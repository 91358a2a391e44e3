// A small JSON-Schema subset used for two things at once: validating request bodies and query
// strings (unknown fields, wrong types and out-of-range values are rejected with a message that
// names the field), and generating the OpenAPI document the service serves.
import { InvalidRequest } from '../common/errors.ts';
import { entityNameProblem } from '../model/names.ts';

export type Schema =
  | { type: 'string'; enum?: readonly string[]; minLength?: number; maxLength?: number; pattern?: string; format?: string; description?: string }
  | { type: 'integer' | 'number'; minimum?: number; maximum?: number; description?: string }
  | { type: 'boolean'; description?: string }
  | { type: 'null' }
  | { type: 'array'; items: Schema; minItems?: number; maxItems?: number; uniqueItems?: boolean; description?: string }
  | { type: 'object'; properties: Record<string, Schema>; required?: readonly string[]; additionalProperties?: false; description?: string }
  | { oneOf: readonly Schema[]; discriminator?: string; description?: string }
  | { $ref: string; schema: Schema };

/** A named schema: validation follows `schema`, the OpenAPI document refers to `#/components/schemas/<name>`. */
export function ref(name: string, schema: Schema): Schema {
  return { $ref: `#/components/schemas/${name}`, schema };
}

/** Returns a list of problems, empty when `value` conforms. */
export function check(schema: Schema, value: unknown, path = 'body'): string[] {
  if ('$ref' in schema) return check(schema.schema, value, path);
  if ('oneOf' in schema) {
    if (schema.discriminator && isObject(value)) {
      const tag = own(value, schema.discriminator);
      const branch = schema.oneOf.find((s) => typeof tag === 'string' && discriminatorValues(s, schema.discriminator!).includes(tag));
      if (!branch) {
        const allowed = schema.oneOf.flatMap((s) => discriminatorValues(s, schema.discriminator!));
        return [`${path}.${schema.discriminator} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`];
      }
      return check(branch, value, path);
    }
    const results = schema.oneOf.map((s) => check(s, value, path));
    return results.some((r) => r.length === 0) ? [] : results.reduce((a, b) => (a.length <= b.length ? a : b));
  }
  switch (schema.type) {
    case 'null':
      return value === null ? [] : [`${path} must be null`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path} must be true or false`];
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return [`${path} must be a number`];
      if (schema.type === 'integer' && !Number.isInteger(value)) return [`${path} must be a whole number`];
      if (schema.minimum !== undefined && value < schema.minimum) return [`${path} must be at least ${schema.minimum}`];
      if (schema.maximum !== undefined && value > schema.maximum) return [`${path} must be at most ${schema.maximum}`];
      return [];
    }
    case 'string': {
      if (typeof value !== 'string') return [`${path} must be a string`];
      if (schema.maxLength !== undefined && value.length > schema.maxLength) return [`${path} must have at most ${schema.maxLength} characters`];
      if (!value.isWellFormed()) return [`${path} must be valid Unicode text (it contains a lone surrogate)`];
      // Text goes on to vCenter (SOAP, XML 1.0) and into files and logs: no control characters but tab and line breaks.
      if (NOT_TEXT.test(value)) return [`${path} must not contain control characters`];
      if (schema.enum && !schema.enum.includes(value)) return [`${path} must be one of ${schema.enum.map((e) => `'${e}'`).join(', ')}`];
      if (schema.minLength !== undefined && value.length < schema.minLength) {
        return [schema.minLength === 1 ? `${path} must not be empty` : `${path} must have at least ${schema.minLength} characters`];
      }
      if (schema.pattern && !new RegExp(schema.pattern).test(value)) return [`${path} has an invalid format${schema.description ? ` (${schema.description})` : ''}`];
      if (schema.format === 'date-time' && Number.isNaN(Date.parse(value))) return [`${path} must be an ISO-8601 date and time`];
      if (schema.format === ENTITY_NAME_FORMAT) {
        const problem = entityNameProblem(value);
        if (problem) return [`${path} ${problem}`];
      }
      return [];
    }
    case 'array': {
      if (!Array.isArray(value)) return [`${path} must be an array`];
      if (schema.minItems !== undefined && value.length < schema.minItems) return [`${path} must have at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`];
      if (schema.maxItems !== undefined && value.length > schema.maxItems) return [`${path} must have at most ${schema.maxItems} items`];
      // Items first: uniqueness compares items that are known to be of the item schema (never deep structures).
      const problems: string[] = [];
      for (let i = 0; i < value.length && problems.length < MAX_PROBLEMS; i++) problems.push(...check(schema.items, value[i], `${path}[${i}]`));
      if (problems.length) return problems;
      if (schema.uniqueItems && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) return [`${path} must not contain duplicates`];
      return [];
    }
    case 'object': {
      if (!isObject(value)) return [`${path} must be an object`];
      const problems: string[] = [];
      // Own properties only, on both sides: a key named like an Object.prototype member (__proto__,
      // constructor, toString…) is an unknown field like any other, never the prototype's member.
      for (const key of schema.required ?? []) if (own(value, key) === undefined) problems.push(`${path}.${key} is required`);
      for (const [key, v] of Object.entries(value)) {
        if (problems.length >= MAX_PROBLEMS) break;
        const sub = own(schema.properties, key);
        if (!sub || FORBIDDEN_KEYS.has(key)) {
          if (schema.additionalProperties === false || FORBIDDEN_KEYS.has(key)) problems.push(`${path}.${printableKey(key)} is not a known field`);
          continue;
        }
        if (v !== undefined) problems.push(...check(sub, v, `${path}.${key}`));
      }
      return problems;
    }
  }
}

/** Validates and returns the value typed as T, or throws InvalidRequest (HTTP 400) listing every problem. */
export function parse<T>(schema: Schema, value: unknown, path = 'body'): T {
  const all = check(schema, value, path);
  if (all.length > 0) {
    const problems = all.slice(0, MAX_PROBLEMS);
    const more = all.length > MAX_PROBLEMS ? ` (and more: the first ${MAX_PROBLEMS} are listed)` : '';
    throw new InvalidRequest(`Invalid request: ${problems.join('; ')}${more}.`, { problems });
  }
  return value as T;
}

/** The schema as OpenAPI 3.1 JSON Schema, with named schemas replaced by references. */
export function toOpenApi(schema: Schema, components: Record<string, unknown>): unknown {
  if ('$ref' in schema) {
    const name = schema.$ref.split('/').pop()!;
    if (!(name in components)) {
      components[name] = {};
      components[name] = toOpenApi(schema.schema, components);
    }
    return { $ref: schema.$ref };
  }
  if ('oneOf' in schema) {
    return {
      oneOf: schema.oneOf.map((s) => toOpenApi(s, components)),
      ...(schema.discriminator ? { discriminator: { propertyName: schema.discriminator } } : {}),
    };
  }
  if (schema.type === 'array') return { ...schema, items: toOpenApi(schema.items, components) };
  if (schema.type === 'object') {
    return { ...schema, properties: Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, toOpenApi(v, components)])) };
  }
  return schema;
}

/** The value of an own property; never one inherited from Object.prototype. */
export function own<T>(o: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

/** Keys refused in every object, even where other unknown keys are let through. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** At most this many problems are reported (a huge array of wrong items answers quickly, with a readable message). */
const MAX_PROBLEMS = 20;
// C0 controls but tab, line feed and carriage return; DEL; the two non-characters XML 1.0 refuses.
const NOT_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]/;

/** The string format of names that become datastore paths (VM and folder names): backend/model/names.ts. */
export const ENTITY_NAME_FORMAT = 'vsphere-entity-name';

function printableKey(key: string): string {
  const short = key.length > 64 ? `${key.slice(0, 64)}…` : key;
  return /^[\w$-]*$/.test(short) ? short : JSON.stringify(short);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function discriminatorValues(s: Schema, key: string): string[] {
  const inner = '$ref' in s ? s.schema : s;
  if ('type' in inner && inner.type === 'object') {
    const p = own(inner.properties, key);
    if (p && 'type' in p && p.type === 'string' && p.enum) return [...p.enum];
  }
  return [];
}
