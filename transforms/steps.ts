/**
 * `transforms:` of a pipeline, any source: steps applied to every record's data, in order, after the source read
 * it and before anything is written — add, remove, rename, cast, hash or mask fields (PII), filter records, or a
 * function of your own. Fields are named by dotted paths (`address.city`).
 */
import { createHash, createHmac } from 'node:crypto';
import { z } from 'zod';
import { NonRetryableError } from '../errors.ts';
import { conditionHolds, conditionProblem, renderRecordTemplate } from '../sources/rest-templates.ts';
import { transformFunction, type TransformContext } from './functions.ts';

const Fields = z.array(z.string().min(1)).min(1);
const CAST_TYPES = ['string', 'number', 'integer', 'boolean', 'timestamp', 'json'] as const;
type CastType = (typeof CAST_TYPES)[number];
const ACTIONS = ['add_fields', 'remove_fields', 'rename_fields', 'cast', 'hash', 'mask', 'filter', 'function'] as const;

/** One step of `transforms:`: one action, optionally for some streams only. */
export const TransformStep = z
  .strictObject({
    add_fields: z.record(z.string(), z.unknown()).optional().describe("Fields to set: a value, or a template over the record (\"{{ record.first }} {{ record.last }}\")"),
    remove_fields: Fields.optional().describe('Fields to remove'),
    rename_fields: z.record(z.string(), z.string().min(1)).optional().describe('Fields to rename: { old: new }'),
    cast: z.record(z.string(), z.enum(CAST_TYPES)).optional().describe('Fields to convert: string, number, integer, boolean, timestamp (ISO 8601), json (a JSON string parsed)'),
    hash: z
      .union([Fields, z.strictObject({ fields: Fields, salt: z.string().optional().describe('A secret reference (BIZON_ENV_HASH_SALT): HMAC-SHA256 with it') })])
      .optional()
      .describe('Fields replaced by the SHA-256 of their value, hex (the same value, the same hash: still joinable)'),
    mask: z
      .union([Fields, z.strictObject({ fields: Fields, keep_last: z.number().int().min(0).default(0), with: z.string().length(1).default('*') })])
      .optional()
      .describe('Fields whose characters are replaced (all, or all but the last keep_last)'),
    filter: z.string().optional().describe("Keeps the records a condition holds for: \"{{ record.status != 'deleted' }}\""),
    function: z.string().min(1).optional().describe("A function of your own: defineTransform('<name>', (data, { stream, id }) => data | null) in a --custom-source file"),
    streams: z.array(z.string().min(1)).min(1).optional().describe('Apply this step to these streams only (default: every stream)'),
  })
  .superRefine((step, context) => {
    const actions = ACTIONS.filter((action) => step[action] !== undefined);
    if (actions.length !== 1) {
      context.addIssue({ code: 'custom', message: actions.length === 0 ? `a step needs one action: ${ACTIONS.join(', ')}` : `a step has one action, this one has ${actions.join(' and ')}: make them two steps` });
    }
    const problem = step.filter === undefined ? undefined : conditionProblem(step.filter, ['record', 'stream']);
    if (problem) context.addIssue({ code: 'custom', path: ['filter'], message: problem });
  });
export type TransformStep = z.infer<typeof TransformStep>;

/** A record as transforms see it. */
export interface TransformedRecord {
  id: string;
  data: Record<string, unknown>;
}

function getAt(data: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), data);
}

/** The object holding a dotted path's last key (made on the way when `make`), and that key. */
function parentOf(data: Record<string, unknown>, path: string, make: boolean): [Record<string, unknown> | undefined, string] {
  const keys = path.split('.');
  let current: Record<string, unknown> | undefined = data;
  for (const key of keys.slice(0, -1)) {
    const next: unknown = current[key];
    if (next !== null && typeof next === 'object' && !Array.isArray(next)) current = next as Record<string, unknown>;
    else if (make) current = current[key] = {};
    else return [undefined, keys.at(-1)!];
  }
  return [current, keys.at(-1)!];
}

function setAt(data: Record<string, unknown>, path: string, value: unknown): void {
  const [parent, key] = parentOf(data, path, true);
  parent![key] = value;
}

function deleteAt(data: Record<string, unknown>, path: string): unknown {
  const [parent, key] = parentOf(data, path, false);
  if (!parent || !(key in parent)) return undefined;
  const value = parent[key];
  delete parent[key];
  return value;
}

/** A value converted to `type`, or an error message. */
function cast(value: unknown, type: CastType): { value: unknown } | { problem: string } {
  const text = typeof value === 'string' ? value.trim() : value;
  switch (type) {
    case 'string':
      return { value: typeof value === 'object' ? JSON.stringify(value) : String(value) };
    case 'number':
    case 'integer': {
      const number = typeof text === 'number' ? text : typeof text === 'string' && text !== '' ? Number(text) : Number.NaN;
      if (!Number.isFinite(number)) return { problem: `not a number` };
      if (type === 'integer' && !Number.isInteger(number)) return { problem: 'not an integer' };
      return { value: number };
    }
    case 'boolean': {
      const known = new Map<unknown, boolean>([[true, true], [false, false], [1, true], [0, false], ['true', true], ['false', false], ['1', true], ['0', false], ['yes', true], ['no', false]]);
      const found = known.get(typeof text === 'string' ? text.toLowerCase() : text);
      return found === undefined ? { problem: 'not a boolean (true/false, 1/0, yes/no)' } : { value: found };
    }
    case 'timestamp': {
      const time = typeof text === 'number' ? text : typeof text === 'string' ? Date.parse(text) : Number.NaN;
      return Number.isFinite(time) ? { value: new Date(time).toISOString() } : { problem: 'not a date or time' };
    }
    case 'json':
      if (typeof value !== 'string') return { value };
      try {
        return { value: JSON.parse(value) };
      } catch {
        return { problem: 'not JSON' };
      }
  }
}

type Step = (record: TransformedRecord, stream: string) => Promise<Record<string, unknown> | null> | Record<string, unknown> | null;

/** One step as a function over a record's data (which it may change in place). */
function compileStep(step: TransformStep, index: number): Step {
  const where = (action: string) => `transforms[${index}] (${action})`;
  if (step.add_fields) {
    const fields = Object.entries(step.add_fields);
    return ({ data }, stream) => {
      for (const [path, value] of fields) setAt(data, path, typeof value === 'string' && value.includes('{{') ? renderRecordTemplate(value, { record: data, stream }) : value);
      return data;
    };
  }
  if (step.remove_fields) {
    const paths = step.remove_fields;
    return ({ data }) => (paths.forEach((path) => deleteAt(data, path)), data);
  }
  if (step.rename_fields) {
    const pairs = Object.entries(step.rename_fields);
    return ({ data }) => {
      for (const [from, to] of pairs) {
        const [parent, key] = parentOf(data, from, false);
        if (parent && key in parent) setAt(data, to, deleteAt(data, from));
      }
      return data;
    };
  }
  if (step.cast) {
    const casts = Object.entries(step.cast);
    return ({ id, data }) => {
      for (const [path, type] of casts) {
        const value = getAt(data, path);
        if (value === undefined || value === null) continue;
        const result = cast(value, type);
        if ('problem' in result) throw new NonRetryableError(`${where('cast')}: ${path} of record ${id} is ${JSON.stringify(value)?.slice(0, 80)}, ${result.problem}: fix the step's type, or filter such records out before it`);
        setAt(data, path, result.value);
      }
      return data;
    };
  }
  if (step.hash) {
    const { fields, salt } = Array.isArray(step.hash) ? { fields: step.hash, salt: undefined } : step.hash;
    const digest = (text: string) => (salt ? createHmac('sha256', salt) : createHash('sha256')).update(text).digest('hex');
    return ({ data }) => {
      for (const path of fields) {
        const value = getAt(data, path);
        if (value !== undefined && value !== null) setAt(data, path, digest(typeof value === 'string' ? value : JSON.stringify(value)));
      }
      return data;
    };
  }
  if (step.mask) {
    const { fields, keep_last: keep, with: char } = Array.isArray(step.mask) ? { fields: step.mask, keep_last: 0, with: '*' } : step.mask;
    return ({ data }) => {
      for (const path of fields) {
        const value = getAt(data, path);
        if (value === undefined || value === null) continue;
        const text = typeof value === 'string' ? value : JSON.stringify(value);
        const kept = keep > 0 ? text.slice(-keep) : '';
        setAt(data, path, char.repeat(Math.max(text.length - kept.length, 0)) + kept);
      }
      return data;
    };
  }
  if (step.filter !== undefined) {
    const condition = step.filter;
    return ({ data }, stream) => (conditionHolds(condition, { record: data, stream }) ? data : null);
  }
  const definition = transformFunction(step.function!);
  return async ({ id, data }, stream) => {
    const context: TransformContext = { stream, id };
    const result = await definition.transform(data, context);
    if (result !== null && (typeof result !== 'object' || Array.isArray(result))) {
      throw new NonRetryableError(`${where(`function ${definition.name}`)} returned ${Array.isArray(result) ? 'an array' : typeof result} for record ${id}: return the record's data (an object), or null to drop it`);
    }
    return result;
  };
}

/** The steps as one function over a page's records (in order; a record a step drops goes no further). */
export function compileTransforms(steps: readonly TransformStep[]): <R extends TransformedRecord>(records: R[], stream: string) => Promise<R[]> {
  const compiled = steps.map((step, index) => ({ run: compileStep(step, index), streams: step.streams }));
  return async <R extends TransformedRecord>(records: R[], stream: string): Promise<R[]> => {
    const steps = compiled.filter((step) => !step.streams || step.streams.includes(stream));
    if (steps.length === 0) return records;
    const out: R[] = [];
    for (const record of records) {
      // A copy: the source's own objects (a cache, a fixture) are never changed.
      let data: Record<string, unknown> | null = structuredClone(record.data);
      for (const step of steps) {
        data = await step.run({ ...record, data: data! }, stream);
        if (data === null) break;
      }
      if (data !== null) out.push({ ...record, data });
    }
    return out;
  };
}

/** Checks that every function a pipeline's steps name is loaded (a ConfigError naming the missing one). */
export function checkTransformFunctions(steps: readonly TransformStep[]): void {
  for (const step of steps) if (step.function !== undefined) transformFunction(step.function);
}
