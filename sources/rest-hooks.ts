/**
 * Functions of your own for what the declarative `rest` source's YAML cannot say: a paginator
 * (`paginator: { type: custom, function: <name> }`) and an authenticator (`authentication: { type: custom,
 * params: { function: <name>, … } }`). Exported from a `--custom-source` file; a whole source class is not needed.
 */
import type { InternalAxiosRequestConfig } from 'axios';
import { ConfigError } from '../errors.ts';
import type { Pagination } from './models.ts';

type MaybePromise<T> = T | Promise<T>;

/** What a custom paginator adds to a page's request. */
export interface PaginatedRequest {
  /** Query parameters, over the stream's. */
  params?: Record<string, unknown>;
  headers?: Record<string, string>;
  /** A POST's JSON body keys, over the stream's body. */
  body?: Record<string, unknown>;
  /** A whole URL to ask instead of the stream's path (on base_url's origin or an allowed host). */
  url?: string;
}

/** A response, as a custom paginator's `next` sees it. */
export interface PaginatedResponse {
  status: number;
  headers: Record<string, string>;
  /** The decoded body. */
  body: unknown;
  /** How many records the page had (before record_filter). */
  records: number;
  /** The pagination this page was asked with (undefined on the first page). */
  pagination: Pagination | undefined;
}

/** A paginator of your own, from {@link definePaginator}. */
export interface PaginatorDefinition {
  readonly kind: 'bizon-rest-paginator';
  readonly name: string;
  /** The request of the page `pagination` names (undefined: the first page). */
  request?(pagination: Pagination | undefined, options: Record<string, unknown>): PaginatedRequest;
  /** The next page's pagination (plain JSON: durable state), or null/undefined/{} at the end. */
  next(response: PaginatedResponse, options: Record<string, unknown>): Pagination | null | undefined;
}

/** An authenticator of your own, from {@link defineAuthenticator}: changes each request before it is sent. */
export interface AuthenticatorDefinition {
  readonly kind: 'bizon-rest-authenticator';
  readonly name: string;
  apply(request: InternalAxiosRequestConfig, params: Record<string, unknown>): MaybePromise<InternalAxiosRequestConfig>;
}

export type RestHook = PaginatorDefinition | AuthenticatorDefinition;

/**
 * A paginator for `paginator: { type: custom, function: <name>, options: {…} }` of the declarative source:
 * `request(pagination)` says what a page's request adds, `next(response)` the next pagination.
 */
export function definePaginator(definition: Omit<PaginatorDefinition, 'kind'>): PaginatorDefinition {
  return { kind: 'bizon-rest-paginator', ...definition };
}

/**
 * An authenticator for `authentication: { type: custom, params: { function: <name>, … } }` (any source): `apply`
 * gets each request and the params (secret references resolved), and returns it signed.
 */
export function defineAuthenticator(name: string, apply: AuthenticatorDefinition['apply']): AuthenticatorDefinition {
  return { kind: 'bizon-rest-authenticator', name, apply };
}

const KINDS = { 'bizon-rest-paginator': 'paginator', 'bizon-rest-authenticator': 'authenticator' } as const;
const registered = new Map<string, RestHook>();

/** Whether a value is a {@link definePaginator} or {@link defineAuthenticator} definition. */
export function isRestHook(value: unknown): value is RestHook {
  return value !== null && typeof value === 'object' && (value as Partial<RestHook>).kind !== undefined && (value as RestHook).kind in KINDS && typeof (value as Partial<RestHook>).name === 'string';
}

/** Makes a paginator or authenticator available to pipelines in this process. */
export function registerRestHook(definition: RestHook, origin = 'a program'): void {
  const key = `${definition.kind}:${definition.name}`;
  const known = registered.get(key);
  if (known && known !== definition) throw new ConfigError(`Two ${KINDS[definition.kind]}s are named '${definition.name}' (the second from ${origin}): give each its own name`);
  registered.set(key, definition);
}

/** The hook of `kind` a config names; an unknown name is refused, with the names there are and how to add one. */
export function restHook<K extends RestHook['kind']>(kind: K, name: string): Extract<RestHook, { kind: K }> {
  const found = registered.get(`${kind}:${name}`);
  if (found) return found as Extract<RestHook, { kind: K }>;
  const what = KINDS[kind];
  const names = [...registered.values()].filter((hook) => hook.kind === kind).map((hook) => hook.name);
  const define = kind === 'bizon-rest-paginator' ? `definePaginator({ name: '${name}', next: (response) => … })` : `defineAuthenticator('${name}', (request, params) => …)`;
  throw new ConfigError(`No ${what} '${name}' (${names.length ? `known: ${names.join(', ')}` : 'none is loaded'}): export it with ${define} from a file given with --custom-source`);
}
