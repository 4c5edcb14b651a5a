import { ConfigError } from '../errors.ts';
import { BoundedCache, compileWork } from './compile-work.ts';

const WHOLE_VALUE_REFERENCE = /^BIZON_ENV_[A-Za-z0-9_]+$/;
const INLINE_REFERENCE = /\$\{env:\/\/([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Whether `text` is only a secret reference (`BIZON_ENV_<NAME>` or `${env://NAME}`), nothing written literally. */
export function isSecretReference(text: string): boolean {
  return WHOLE_VALUE_REFERENCE.test(text) || /^\$\{env:\/\/[A-Za-z_][A-Za-z0-9_]*\}$/.test(text);
}

/** One environment variable a config refers to, and where. */
export interface SecretReference {
  variable: string;
  path: string;
}

function walk(value: unknown, path: string, visit: (text: string, path: string) => string): unknown {
  if (typeof value === 'string') return visit(value, path);
  if (Array.isArray(value)) return value.map((item, index) => walk(item, `${path}[${index}]`, visit));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item, path ? `${path}.${key}` : key, visit)]));
  }
  return value;
}

const foundReferences = new BoundedCache<string, readonly SecretReference[]>(256);

/**
 * Lists the environment variables a config refers to: whole values
 * `BIZON_ENV_<NAME>` (the variable of that same name) and inline `${env://NAME}`.
 * A config is walked once per process: the same config (as JSON) gets the list found the first time.
 */
export function findSecretReferences(config: unknown, basePath = ''): readonly SecretReference[] {
  if (config === undefined || config === null || typeof config !== 'object') return walkForReferences(config, basePath);
  const key = `${basePath}\u0000${JSON.stringify(config)}`;
  const known = foundReferences.get(key);
  if (known) return known;
  const found = walkForReferences(config, basePath);
  foundReferences.set(key, found);
  return found;
}

function walkForReferences(config: unknown, basePath: string): readonly SecretReference[] {
  compileWork.secretReferenceWalks += 1;
  const found: SecretReference[] = [];
  walk(config, basePath, (text, path) => {
    if (WHOLE_VALUE_REFERENCE.test(text)) found.push({ variable: text, path });
    for (const match of text.matchAll(INLINE_REFERENCE)) found.push({ variable: match[1]!, path });
    return text;
  });
  return Object.freeze(found.map((reference) => Object.freeze(reference)));
}

/** The parts of a pipeline that may hold secret references, as every check and resolution of them reads them. */
export function secretHoldingParts(pipeline: { source: unknown; destination: unknown; alerting?: unknown; transforms?: unknown }): { source: unknown; destination: unknown; alerting?: unknown; transforms?: unknown } {
  return { source: pipeline.source, destination: pipeline.destination, ...(pipeline.alerting ? { alerting: pipeline.alerting } : {}), ...(pipeline.transforms ? { transforms: pipeline.transforms } : {}) };
}

/** The environment variable listing what else a pipeline may read (names, or prefixes ending in `*`, comma-separated). */
export const ALLOW_ENV_VARIABLE = 'BIZON_ALLOW_ENV';

/** One entry of the operator's allow-list: a variable name or prefix (`AWS_*`), bound to one host when written `NAME=host`. */
interface AllowEntry {
  pattern: string;
  host: string | null;
}

function allowEntries(env: NodeJS.ProcessEnv, allowEnv: readonly string[]): AllowEntry[] {
  return ['BIZON_ENV_*', ...(env[ALLOW_ENV_VARIABLE] ?? '').split(','), ...allowEnv]
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.indexOf('=');
      return at < 0 ? { pattern: entry, host: null } : { pattern: entry.slice(0, at).trim(), host: entry.slice(at + 1).trim() || null };
    });
}

function matchesPattern(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/**
 * Whether a pipeline may read the environment variable `name`: `BIZON_ENV_…` variables always; any other only when
 * the operator of the process allows it (`BIZON_ALLOW_ENV`, which `--allow-env` sets, and `allowEnv` of the worker
 * API) — so a pipeline file cannot have a worker send `${env://AWS_SECRET_ACCESS_KEY}` anywhere.
 */
export function isAllowedVariable(name: string, env: NodeJS.ProcessEnv, allowEnv: readonly string[] = []): boolean {
  return allowEntries(env, allowEnv).some((entry) => matchesPattern(entry.pattern, name));
}

/**
 * The hosts the operator bound the variable `name` to (`--allow-env 'BIZON_ENV_STRIPE_*=api.stripe.com'`, one
 * entry per host), or null when it is bound to none (it may go wherever the pipeline sends it).
 */
export function boundHosts(name: string, env: NodeJS.ProcessEnv, allowEnv: readonly string[] = []): string[] | null {
  const hosts = allowEntries(env, allowEnv).flatMap((entry) => (entry.host !== null && matchesPattern(entry.pattern, name) ? [entry.host] : []));
  return hosts.length > 0 ? hosts : null;
}

/** Whether `url` is one of `hosts`: an origin (`https://api.example.com`), a `host:port`, or a host name (any port). */
export function isBoundHost(url: URL, hosts: readonly string[]): boolean {
  return hosts.some((entry) => (entry.includes('://') ? URL.canParse(entry) && new URL(entry).origin === url.origin : entry === url.host || entry === url.hostname));
}

/** Where a part of a pipeline sends what it holds: every URL written in it, its `allowed_hosts` and its `host`. */
function targetsOf(block: unknown, basePath: string): Array<{ path: string; url: URL }> {
  const targets: Array<{ path: string; url: URL }> = [];
  const visit = (value: unknown, path: string, key: string, port?: unknown): void => {
    if (typeof value === 'string') {
      // A `host` goes with its block's `port` (a database's), an allowed_hosts entry as written.
      const hostPort = key === 'host' && (typeof port === 'number' || typeof port === 'string') ? `${value}:${port}` : value;
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && URL.canParse(value) && new URL(value).host) targets.push({ path, url: new URL(value) });
      else if ((key === 'host' || /allowed_hosts\[\d+\]$/.test(path)) && value && URL.canParse(`http://${hostPort}`)) targets.push({ path, url: new URL(`http://${hostPort}`) });
    } else if (Array.isArray(value)) value.forEach((item, index) => visit(item, `${path}[${index}]`, key));
    else if (value !== null && typeof value === 'object') {
      const block = value as Record<string, unknown>;
      for (const [name, item] of Object.entries(block)) visit(item, `${path}.${name}`, name, block.port);
    }
  };
  visit(block, basePath, '');
  return targets;
}

/**
 * Throws a {@link ConfigError} when a pipeline would send a variable its worker's operator bound to some hosts
 * (`NAME=host` entries of `--allow-env`) to any other: each bound reference of the source, the destination or the
 * alerting block is checked against every URL and host that block names. Called before any request is made.
 */
export function checkSecretHosts(pipeline: { source: unknown; destination: unknown; alerting?: unknown }, env: NodeJS.ProcessEnv, allowEnv: readonly string[] = []): void {
  const config = secretHoldingParts(pipeline);
  for (const reference of findSecretReferences(config)) {
    const hosts = boundHosts(reference.variable, env, allowEnv);
    if (!hosts) continue;
    const block = reference.path.split('.')[0] as 'source' | 'destination' | 'alerting';
    const stray = targetsOf(config[block], block).find((target) => !isBoundHost(target.url, hosts));
    if (stray) {
      throw new ConfigError(
        `${reference.variable} (used by ${reference.path}) may be sent only to ${hosts.join(', ')} — the worker's operator bound it there (--allow-env '${reference.variable}=…') — ` +
          `but ${stray.path} would send it to ${stray.url.host}. Point the pipeline at an allowed host, or have the operator start the worker with --allow-env '${reference.variable}=${stray.url.host}'`,
      );
    }
  }
}

/**
 * The hosts every secret the source refers to may be sent to (those all its bound variables share), or null when
 * none of them is bound: the worker's HTTP session then refuses any other host at request time.
 */
export function sourceHostBinding(pipeline: { source: unknown; destination: unknown; alerting?: unknown }, env: NodeJS.ProcessEnv, allowEnv: readonly string[] = []): { variable: string; hosts: string[] } | null {
  let binding: { variable: string; hosts: string[] } | null = null;
  for (const reference of findSecretReferences(secretHoldingParts(pipeline))) {
    if (!isUnder(reference.path, 'source')) continue;
    const hosts = boundHosts(reference.variable, env, allowEnv);
    if (hosts) binding = binding ? { variable: binding.variable, hosts: binding.hosts.filter((host) => hosts.includes(host)) } : { variable: reference.variable, hosts };
  }
  return binding;
}

/** Whether `path` is `part` or inside it. */
function isUnder(path: string, part: string): boolean {
  return path === part || path.startsWith(`${part}.`) || path.startsWith(`${part}[`);
}

/**
 * Throws a {@link ConfigError} naming every referenced variable the operator does not allow (see
 * {@link isAllowedVariable}), then every one that `env` lacks.
 */
export function checkSecretReferences(config: unknown, env: NodeJS.ProcessEnv, basePath = '', allowEnv: readonly string[] = []): void {
  const references = findSecretReferences(config, basePath);
  const refused = references.filter((reference) => !isAllowedVariable(reference.variable, env, allowEnv));
  if (refused.length > 0) {
    const list = refused.map((reference) => `${reference.variable} (used by ${reference.path})`).join(', ');
    const first = refused[0]!.variable;
    throw new ConfigError(
      `Not allowed to read ${list}: a pipeline reads the environment variables named BIZON_ENV_<NAME>, and others only when the operator of the worker allows them — ` +
        `rename it BIZON_ENV_${first}, or start the worker with --allow-env ${first} (or a prefix such as --allow-env 'AWS_*'; the environment: ${ALLOW_ENV_VARIABLE}=${first}; the worker API: allowEnv)`,
    );
  }
  const missing = references.filter((reference) => env[reference.variable] === undefined);
  if (missing.length === 0) return;
  const list = missing.map((reference) => `${reference.variable} (used by ${reference.path})`).join(', ');
  throw new ConfigError(`Missing environment variable${missing.length > 1 ? 's' : ''}: ${list}. Export ${missing.length > 1 ? 'them' : 'it'} where the worker runs.`);
}

/**
 * Returns a copy of `config` with every reference replaced by its value (`config` itself when it has none).
 * Called only inside activities, so secrets never enter workflow history.
 */
export function resolveSecretReferences<T>(config: T, env: NodeJS.ProcessEnv, basePath = '', allowEnv: readonly string[] = []): T {
  checkSecretReferences(config, env, basePath, allowEnv);
  if (findSecretReferences(config, basePath).length === 0) return config;
  return walk(config, basePath, (text) => {
    if (WHOLE_VALUE_REFERENCE.test(text)) return env[text]!;
    return text.replace(INLINE_REFERENCE, (_, variable: string) => env[variable]!);
  }) as T;
}

/** `authentication.params` keys whose values are not credentials. */
const NON_SECRET_AUTH_PARAMS = new Set(['auth_method', 'auth_header', 'username', 'token_url', 'grant_type', 'client_id', 'scope', 'scopes', 'audience', 'function']);

/**
 * The credentials written literally in a source's `authentication.params`
 * (not as `BIZON_ENV_...` or `${env://...}` references): they would be stored
 * in Temporal's history with the workflow's input.
 */
export function findLiteralCredentials(source: Record<string, unknown>): string[] {
  const auth = source.authentication as { params?: Record<string, unknown> } | undefined;
  const found: string[] = [];
  const visit = (value: unknown, path: string, key: string) => {
    if (typeof value === 'string') {
      if (value !== '' && !NON_SECRET_AUTH_PARAMS.has(key) && !WHOLE_VALUE_REFERENCE.test(value) && !new RegExp(INLINE_REFERENCE.source).test(value)) found.push(path);
    } else if (value !== null && typeof value === 'object') {
      for (const [child, item] of Object.entries(value)) visit(item, `${path}.${child}`, child);
    }
  };
  for (const [key, value] of Object.entries(auth?.params ?? {})) visit(value, `source.authentication.params.${key}`, key);
  return found;
}

/** Like {@link findLiteralCredentials}, for a destination's `password`, and a `connection_string` holding one (`postgres://user:password@…`). */
export function findLiteralDestinationCredentials(config: Record<string, unknown>): string[] {
  const isReference = (value: string) => WHOLE_VALUE_REFERENCE.test(value) || new RegExp(INLINE_REFERENCE.source).test(value);
  const found: string[] = [];
  if (typeof config.password === 'string' && config.password !== '' && !isReference(config.password)) found.push('destination.config.password');
  const url = config.connection_string;
  if (typeof url === 'string' && !isReference(url) && /^[a-z][a-z0-9+.-]*:\/\/[^/@:]*:[^/@]+@/i.test(url)) found.push('destination.config.connection_string');
  // Object storage's keys (the parquet destination's s3 block).
  const s3 = config.s3 as Record<string, unknown> | undefined;
  for (const key of ['secret_access_key', 'session_token']) {
    const value = s3?.[key];
    if (typeof value === 'string' && value !== '' && !isReference(value)) found.push(`destination.config.s3.${key}`);
  }
  return found;
}

/** Header and parameter names that carry credentials (`Authorization`, `X-Api-Key`, `access_token`, `client_secret`…). */
const CREDENTIAL_NAME = /^(authorization|cookie|proxy-authorization)$|(^|[-_])(api[-_]?key|apikey|key|token|access[-_]?token|secret|client[-_]?secret|password|passwd|signature|sig)$/i;

/** Whether `value` holds a secret reference (whole or inline), so nothing of it is written literally. */
function isReferenceOnly(value: string): boolean {
  return WHOLE_VALUE_REFERENCE.test(value) || new RegExp(INLINE_REFERENCE.source).test(value);
}

/**
 * Every credential of a pipeline written literally (paths): `authentication.params`, a destination's password or
 * connection string, `alerting.config.webhook_url`, the `rest` source's credential-named headers and params, and
 * the fields a source's config class marks secret (`.meta({ secret: true })`). They would be stored in the
 * workflow's input and memo: refused unless the operator says they are not secret.
 */
export function findLiteralPipelineCredentials(
  pipeline: { source: Record<string, unknown>; destination: { config: Record<string, unknown> }; alerting?: { config: { webhook_url: string } } | undefined },
  sourceSchema?: unknown,
): string[] {
  const found = [...findLiteralCredentials(pipeline.source), ...findLiteralDestinationCredentials(pipeline.destination.config)];
  const webhook = pipeline.alerting?.config.webhook_url;
  if (webhook && !isReferenceOnly(webhook)) found.push('alerting.config.webhook_url');
  const named = (values: unknown, path: string) => {
    if (values === null || typeof values !== 'object') return;
    for (const [name, value] of Object.entries(values)) if (typeof value === 'string' && value !== '' && CREDENTIAL_NAME.test(name) && !isReferenceOnly(value)) found.push(`${path}.${name}`);
  };
  if (pipeline.source.name === 'rest') {
    named(pipeline.source.headers, 'source.headers');
    named(pipeline.source.params, 'source.params');
    for (const [stream, endpoint] of Object.entries((pipeline.source.endpoints as Record<string, { params?: unknown }> | undefined) ?? {})) named(endpoint?.params, `source.endpoints.${stream}.params`);
  }
  const shape = (sourceSchema as { shape?: Record<string, { meta?: () => { secret?: unknown } | undefined }> } | undefined)?.shape ?? {};
  for (const [key, field] of Object.entries(shape)) {
    const value = pipeline.source[key];
    if (field.meta?.()?.secret === true && typeof value === 'string' && value !== '' && !isReferenceOnly(value)) found.push(`source.${key}`);
  }
  return [...new Set(found)];
}
