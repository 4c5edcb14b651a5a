import type { Client } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import proto from '@temporalio/proto';
import { BizonError, ConfigError } from '../errors.ts';

/** The search attributes of every sync, so the Web UI can filter the runs of one pipeline: `BizonPipeline = "name"`. */
export const BIZON_PIPELINE = defineSearchAttributeKey('BizonPipeline', SearchAttributeType.KEYWORD);
export const BIZON_SOURCE = defineSearchAttributeKey('BizonSource', SearchAttributeType.KEYWORD);
export const BIZON_STREAM = defineSearchAttributeKey('BizonStream', SearchAttributeType.KEYWORD);
const KEYS = [BIZON_PIPELINE, BIZON_SOURCE, BIZON_STREAM];

const ensured = new WeakMap<Client, Promise<void>>();

/** How long a server may take to apply a new mapping everywhere (a production server caches it ~10 s per service). */
export const SEARCH_ATTRIBUTE_WAIT_MS = 30_000;

const GRPC = { INVALID_ARGUMENT: 3, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, UNIMPLEMENTED: 12, UNAUTHENTICATED: 16 } as const;

/**
 * Makes sure bizon's search attributes can be used on the client's namespace:
 * registers the missing ones, then waits (at most {@link SEARCH_ATTRIBUTE_WAIT_MS})
 * until the namespace answers queries on them — registration is eventually
 * consistent on a server with SQL or Elasticsearch visibility. Fails with a
 * {@link ConfigError} naming the operator's command when the caller may not
 * register them.
 */
export function ensureSearchAttributes(client: Client): Promise<void> {
  let result = ensured.get(client);
  if (!result) {
    result = register(client);
    ensured.set(client, result);
    // A refusal may be mended by an operator while this process lives: ask again next time.
    result.catch(() => ensured.delete(client));
  }
  return result;
}

/** The command an operator runs once per namespace to let syncs be filtered by pipeline, source and stream. */
export function searchAttributeCommand(namespace: string): string {
  return `temporal operator search-attribute create --namespace ${namespace} ${KEYS.map((key) => `--name ${key.name} --type Keyword`).join(' ')}`;
}

function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

async function register(client: Client): Promise<void> {
  const namespace = client.options.namespace;
  const operator = client.connection.operatorService;
  let missing: typeof KEYS = KEYS;
  try {
    const existing = await operator.listSearchAttributes({ namespace });
    const known = { ...existing.customAttributes, ...existing.systemAttributes };
    missing = KEYS.filter((key) => !(key.name in known));
  } catch (error) {
    // A caller without operator rights may still use attributes an operator added: the probe below says.
    if (!isRefusal(error)) throw error;
  }
  if (missing.length > 0) {
    try {
      await operator.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((key) => [key.name, proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
      });
    } catch (error) {
      if (grpcCode(error) === GRPC.ALREADY_EXISTS) {
        // Another client registered them first.
      } else if (isRefusal(error)) {
        if (await answersQueries(client)) return;
        throw new ConfigError(
          `Temporal refused to add bizon's search attributes (${missing.map((key) => key.name).join(', ')}) to namespace "${namespace}": ${(error as Error).message}. ` +
            `An operator adds them once, then syncs can start: ${searchAttributeCommand(namespace)}`,
          { cause: error },
        );
      } else {
        throw error;
      }
    }
  }
  const deadline = Date.now() + SEARCH_ATTRIBUTE_WAIT_MS;
  for (let delay = 100; !(await answersQueries(client)); delay = Math.min(delay * 2, 2_000)) {
    if (Date.now() + delay > deadline) {
      throw new BizonError(
        `Namespace "${namespace}" still has no mapping for bizon's search attributes ${SEARCH_ATTRIBUTE_WAIT_MS / 1000} s after they were registered. ` +
          `Check them with: temporal operator search-attribute list --namespace ${namespace}; then run the command again.`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

function isRefusal(error: unknown): boolean {
  const code = grpcCode(error);
  return code === GRPC.PERMISSION_DENIED || code === GRPC.UNAUTHENTICATED;
}

/**
 * Whether the namespace maps all of bizon's attributes: a count query on them is refused with INVALID_ARGUMENT
 * until the frontend's cache of the namespace has the mapping, which is what starting a sync needs too.
 */
async function answersQueries(client: Client): Promise<boolean> {
  try {
    await client.workflowService.countWorkflowExecutions({
      namespace: client.options.namespace,
      query: KEYS.map((key) => `${key.name} = '-'`).join(' AND '),
    });
    return true;
  } catch (error) {
    if (grpcCode(error) === GRPC.INVALID_ARGUMENT) return false;
    // A server that cannot count (UNIMPLEMENTED) or refuses this caller: starting the sync will say.
    if (grpcCode(error) === GRPC.UNIMPLEMENTED || isRefusal(error)) return true;
    throw error;
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
