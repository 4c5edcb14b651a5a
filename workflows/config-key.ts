/**
 * A sync's pipeline, named by a short fingerprint: a page activity carries the fingerprint instead of the whole
 * config (which is in the sync's input already), and a worker that has not built the sync's source yet reads the
 * config from the sync's input in its history. Deterministic; no imports.
 */

/** 16 hex digits of two FNV-1a hashes of the config's JSON: which config a worker's cached source was built from. */
export function configKey(pipeline: unknown): string {
  const text = JSON.stringify(pipeline);
  let low = 0x811c9dc5;
  let high = 0x01000193 ^ text.length;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    low = Math.imul(low ^ code, 0x01000193);
    high = Math.imul(high ^ code, 0x5bd1e995) ^ (high >>> 15);
  }
  return (low >>> 0).toString(16).padStart(8, '0') + (high >>> 0).toString(16).padStart(8, '0');
}
