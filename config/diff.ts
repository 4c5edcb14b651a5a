/**
 * The key paths where two configs differ (`source.page_size`,
 * `destination.config.directory`), in the order they appear. Values are not
 * shown: a config may hold credentials written literally.
 */
export function configDifferences(running: unknown, requested: unknown, path = ''): string[] {
  if (isPlainObject(running) && isPlainObject(requested)) {
    const keys = [...new Set([...Object.keys(running), ...Object.keys(requested)])];
    return keys.flatMap((key) => configDifferences(running[key], requested[key], path ? `${path}.${key}` : key));
  }
  if (Array.isArray(running) && Array.isArray(requested) && running.length === requested.length) {
    return running.flatMap((item, index) => configDifferences(item, requested[index], `${path}[${index}]`));
  }
  return JSON.stringify(running) === JSON.stringify(requested) ? [] : [path || '(the whole config)'];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The differences between a running sync's config and a requested one that
 * change what the sync does: how it reaches Temporal (`engine.temporal`: the
 * address, namespace, credentials, task queue) does not — the running sync was
 * found there.
 */
export function syncConfigDifferences(running: unknown, requested: unknown): string[] {
  return configDifferences(running, requested).filter((path) => !path.startsWith('engine.temporal.') && path !== 'engine.temporal');
}
