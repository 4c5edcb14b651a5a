/**
 * Dependent streams of the declarative `rest` source (`parent: posts`): a child stream is read per parent record,
 * each parent a slice with a `partition` key, so the engine keeps a watermark per parent.
 */
import type { SourceIncrementalState, SourceRecord, SourceSlice } from './models.ts';
import type { RestEndpoint, RestSourceConfig } from './rest-config.ts';
import { parentFieldsUsed, type RequestContext } from './rest-templates.ts';

/** A stream as its requests are made: its name and its endpoint. */
export interface StreamRef {
  name: string;
  endpoint: RestEndpoint;
}

/** A parent stream read for its children stops here: a paginator that never ends is a mistake, not a parent list. */
export const MAX_PARENT_PAGES = 10_000;

/** The incremental window of a read from `state`. */
export function windowOf(state: Pick<SourceIncrementalState, 'lastRun' | 'runStartedAt'>): NonNullable<RequestContext['window']> {
  return { lastRun: state.lastRun, ...(state.runStartedAt ? { runStartedAt: state.runStartedAt } : {}) };
}

/** The query parameters an incremental read sends its window in (`param`, `until_param`), when the endpoint names them. */
export function windowFilters(incremental: NonNullable<RestEndpoint['incremental']>, state: Pick<SourceIncrementalState, 'lastRun' | 'runStartedAt'>): Record<string, string> {
  return {
    ...(incremental.param ? { [incremental.param]: state.lastRun.toISOString() } : {}),
    ...(incremental.until_param && state.runStartedAt ? { [incremental.until_param]: state.runStartedAt.toISOString() } : {}),
  };
}

/** Where the parent records of a `write_parent` stream are written: the id it names, or `<source>_<parent>`. */
export function parentDestination(config: RestSourceConfig, parent: string): string {
  const write = config.endpoints[config.stream]?.write_parent;
  return typeof write === 'string' ? write : `${config.name}_${parent}`;
}

/**
 * One slice per parent record (the last one of a key read twice): its key is the slice's partition; it carries the
 * parent fields the child's requests and records use (the whole record with `write_parent`).
 */
export function parentSlices(endpoint: RestEndpoint, parents: SourceRecord[]): SourceSlice[] {
  const parentName = endpoint.parent!;
  const used = parentFieldsUsed(endpoint);
  const copied = endpoint.parent_fields === undefined ? [] : Array.isArray(endpoint.parent_fields) ? endpoint.parent_fields : Object.values(endpoint.parent_fields);
  const byKey = new Map<string, SourceSlice>();
  for (const record of parents) {
    const key = endpoint.parent_key ? record.data[endpoint.parent_key] : record.id;
    if (typeof key !== 'string' && typeof key !== 'number') continue;
    const fields = used === 'all' ? record.data : Object.fromEntries([...used, ...copied, ...(endpoint.parent_key ? [endpoint.parent_key] : [])].filter((field) => field in record.data).map((field) => [field, record.data[field]]));
    byKey.set(String(key), {
      partition: String(key),
      label: `${parentName} ${key}`,
      parent: { id: record.id, ...fields },
      ...(endpoint.write_parent ? { record: { id: record.id, data: record.data, ...(record.timestamp !== undefined ? { timestamp: String(record.timestamp) } : {}) } } : {}),
    });
  }
  return [...byKey.values()];
}

/** A child record with its parent's fields: `parent_fields: [title]` adds `parent_title`; `{ post_title: title }` names it. */
export function withParentFields(data: Record<string, unknown>, parent: Record<string, unknown>, fields: RestEndpoint['parent_fields']): Record<string, unknown> {
  if (fields === undefined) return data;
  const pairs = Array.isArray(fields) ? fields.map((field) => [`parent_${field}`, field] as const) : Object.entries(fields);
  return { ...data, ...Object.fromEntries(pairs.map(([name, field]) => [name, parent[field] ?? null])) };
}
