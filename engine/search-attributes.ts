import type { Client } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import proto from '@temporalio/proto';

/** The search attributes of every sync, so the Web UI can filter the runs of one pipeline: `BizonPipeline = "name"`. */
export const BIZON_PIPELINE = defineSearchAttributeKey('BizonPipeline', SearchAttributeType.KEYWORD);
export const BIZON_SOURCE = defineSearchAttributeKey('BizonSource', SearchAttributeType.KEYWORD);
export const BIZON_STREAM = defineSearchAttributeKey('BizonStream', SearchAttributeType.KEYWORD);
const KEYS = [BIZON_PIPELINE, BIZON_SOURCE, BIZON_STREAM];

const ensured = new WeakMap<Client, Promise<boolean>>();

/**
 * Registers bizon's search attributes on the namespace when they are missing.
 * Returns false (and syncs start without them) when the server refuses, for
 * example for lack of permission on a shared cluster.
 */
export function ensureSearchAttributes(client: Client): Promise<boolean> {
  let result = ensured.get(client);
  if (!result) {
    result = register(client);
    ensured.set(client, result);
  }
  return result;
}

async function register(client: Client): Promise<boolean> {
  const namespace = client.options.namespace;
  try {
    const existing = await client.connection.operatorService.listSearchAttributes({ namespace });
    const known = { ...existing.customAttributes, ...existing.systemAttributes };
    const missing = KEYS.filter((key) => !(key.name in known));
    if (missing.length === 0) return true;
    await client.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
    return true;
  } catch {
    return false;
  }
}

/** The search attributes of a sync of (pipeline, source, stream). */
export function syncSearchAttributes(pipeline: { name: string; source: { name: string; stream: string } }): SearchAttributePair[] {
  return [
    { key: BIZON_PIPELINE, value: pipeline.name },
    { key: BIZON_SOURCE, value: pipeline.source.name },
    { key: BIZON_STREAM, value: pipeline.source.stream },
  ];
}

/** {@link syncSearchAttributes} as plain JSON, for a workflow that starts the sync as its child. */
export function plainSyncSearchAttributes(pipeline: { name: string; source: { name: string; stream: string } }): Array<{ key: { name: string; type: 'KEYWORD' }; value: string }> {
  return syncSearchAttributes(pipeline).map(({ key, value }) => ({ key: { name: key.name, type: 'KEYWORD' as const }, value: String(value) }));
}
