import axios, { type AxiosResponse } from 'axios';
import { z } from 'zod';
import { NonRetryableError } from '../errors.ts';
import { AuthBuilder, type Authenticator } from './auth.ts';
import { isAllowedOrigin } from './session.ts';
import { SourceConfig } from './config.ts';
import type { Pagination, SourceIncrementalState, SourceIteration, SourceRecord } from './models.ts';
import { AbstractSource } from './source.ts';
import { isTemplate, renderAll, renderTemplate, TEMPLATE_NAMES, templateProblem, usesWindow, type RequestContext } from './rest-templates.ts';

const WRITE_A_CLASS = 'an API the declarative form cannot express is a source class of your own (docs/sources.md)';

/** How the next page is asked for. */
export const RestPaginator = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('page_number').describe('page=1, 2, 3…; a short page (or total_pages_path) ends the stream'),
    page_param: z.string().default('page').describe('Query parameter of the page number'),
    size_param: z.string().default('limit').describe('Query parameter of the page size'),
    page_size: z.number().int().positive().default(100).describe('Records per page'),
    start_page: z.number().int().min(0).default(1).describe('Number of the first page'),
    total_pages_path: z.string().optional().describe('Path in the body to the number of pages, when the API says it'),
    inject: z.enum(['query', 'body']).default('query').describe("Where the paginator's parameters go: the query, or (a POST) the JSON body — a dotted name (variables.after) sets a nested key"),
  }),
  z.strictObject({
    type: z.literal('offset').describe('offset=0, 100, 200…; a short page ends the stream'),
    offset_param: z.string().default('offset').describe('Query parameter of the offset'),
    limit_param: z.string().default('limit').describe('Query parameter of the page size'),
    limit: z.number().int().positive().default(100).describe('Records per page'),
    inject: z.enum(['query', 'body']).default('query').describe("Where the paginator's parameters go: the query, or (a POST) the JSON body — a dotted name (variables.after) sets a nested key"),
  }),
  z.strictObject({
    type: z.literal('cursor').describe('the API returns a cursor for the next page; none ends the stream'),
    cursor_path: z.string().optional().describe('Path in the body to the next cursor (e.g. pagination.next_cursor)'),
    cursor_header: z.string().optional().describe('Or the response header holding it'),
    cursor_param: z.string().default('cursor').describe('Query parameter the cursor is sent in'),
    size_param: z.string().optional().describe('Query parameter of the page size'),
    page_size: z.number().int().positive().optional().describe('Records per page'),
    has_more_path: z.string().optional().describe('Path in the body to a flag saying whether a next page exists (GraphQL: data.x.pageInfo.hasNextPage)'),
    inject: z.enum(['query', 'body']).default('query').describe("Where the paginator's parameters go: the query, or (a POST) the JSON body — a dotted name (variables.after) sets a nested key"),
  }),
  z.strictObject({ type: z.literal('link_header').describe('follow the rel="next" URL of the Link header (GitHub style)') }),
  z.strictObject({
    type: z.literal('next_url').describe('the body holds the whole URL of the next page'),
    next_url_path: z.string().default('next').describe('Path in the body to that URL'),
  }),
  z.strictObject({ type: z.literal('none').describe('one request, one page') }),
]);
export type RestPaginator = z.infer<typeof RestPaginator>;

/** One stream of the declarative source: where its records are and how they page. */
export const RestEndpoint = z.strictObject({
  path: z.string().min(1).describe('Path after base_url (e.g. /users; a template may use cursor, page, offset, config)'),
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional().describe("Query parameters of every request (a value may be a template: filter: \"updated>'{{ last_run | date: '%Y-%m-%d' }}'\")"),
  headers: z.record(z.string(), z.string()).optional().describe("Headers of this stream's requests, over the source-wide ones (templates allowed)"),
  method: z.enum(['GET', 'POST']).default('GET').describe('GET, or POST for search and GraphQL APIs (with body)'),
  body: z.record(z.string(), z.unknown()).optional().describe('JSON body of a POST; its strings may be templates'),
  record_selector: z.string().default('').describe("Path in the JSON body to the array of records ('' = the body itself, data, data.items…)"),
  primary_key: z.string().default('id').describe('Field of a record holding its id'),
  paginator: RestPaginator.optional().describe('How pages follow each other (default: the source-wide paginator)'),
  incremental: z
    .strictObject({
      param: z.string().optional().describe('Query parameter that gets the watermark (e.g. updated_since); or a parameter templated with last_run'),
      cursor_field: z.string().describe('Field of a record holding its change time'),
      until_param: z.string().optional().describe("Query parameter that gets this run's start, to read (watermark, start]"),
    })
    .optional()
    .describe('How an incremental sync asks for what changed'),
  requests_per_second: z.number().positive().optional().describe('Pace of this stream’s requests across all workers'),
});
export type RestEndpoint = z.infer<typeof RestEndpoint>;

/** Config of the built-in `rest` source: a REST API described in YAML. */
export const RestSourceConfig = SourceConfig.extend({
  base_url: z.string().url().describe('API base URL'),
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional().describe('Query parameters of every request of every stream'),
  headers: z.record(z.string(), z.string()).optional().describe('Headers of every request (secret references and templates allowed)'),
  paginator: RestPaginator.default({ type: 'none' }).describe('How pages follow each other, for streams that do not say'),
  endpoints: z.record(z.string(), RestEndpoint).describe('The streams: each one an endpoint'),
  check_path: z.string().optional().describe("Path checkConnection() requests (default: the stream's own path)"),
}).superRefine((config, context) => {
  if (!(config.stream in config.endpoints)) {
    const streams = Object.keys(config.endpoints);
    context.addIssue({ code: 'custom', path: ['stream'], message: `'${config.stream}' is not one of endpoints (${streams.join(', ') || 'none'})` });
  }
  for (const [name, endpoint] of Object.entries(config.endpoints)) {
    const paginator = endpoint.paginator ?? config.paginator;
    if (paginator.type === 'cursor' && (paginator.cursor_path === undefined) === (paginator.cursor_header === undefined)) {
      context.addIssue({ code: 'custom', path: ['endpoints', name, 'paginator'], message: 'a cursor paginator needs cursor_path (in the body) or cursor_header, one of them' });
    }
  }
  for (const [name, endpoint] of Object.entries(config.endpoints)) {
    const paginator = endpoint.paginator ?? config.paginator;
    if (endpoint.method === 'GET' && endpoint.body !== undefined) context.addIssue({ code: 'custom', path: ['endpoints', name, 'body'], message: 'a GET has no body: set method: POST' });
    if ('inject' in paginator && paginator.inject === 'body' && endpoint.method !== 'POST') {
      context.addIssue({ code: 'custom', path: ['endpoints', name, 'paginator', 'inject'], message: 'inject: body puts the pagination in a JSON body, which only a POST has: set method: POST' });
    }
  }
  checkTemplates(config, context);
  const streamEndpoint = config.endpoints[config.stream];
  if (config.sync_mode === 'incremental' && !streamEndpoint?.incremental) {
    context.addIssue({ code: 'custom', path: ['endpoints', config.stream, 'incremental'], message: 'sync_mode: incremental needs the stream\'s incremental: { param, cursor_field }' });
  }
  if (streamEndpoint?.incremental && streamEndpoint.incremental.param === undefined && !windowTemplated(config, streamEndpoint)) {
    context.addIssue({
      code: 'custom',
      path: ['endpoints', config.stream, 'incremental', 'param'],
      message: "an incremental stream sends its watermark: name the parameter (param: updated_since), or template one with last_run (filter: \"updated>'{{ last_run }}'\")",
    });
  }
});
export type RestSourceConfig = z.infer<typeof RestSourceConfig>;

type RefinementContext = Parameters<Parameters<typeof SourceConfig.superRefine>[0]>[1];

/** Every template of the config is parsed and its names checked, so a mistake fails `check`, not a page. */
function checkTemplates(config: { params?: Record<string, unknown>; headers?: Record<string, unknown>; endpoints: Record<string, RestEndpoint> }, context: RefinementContext): void {
  const check = (value: unknown, path: Array<string>, allowed?: readonly string[]) => {
    if (!isTemplate(value)) return;
    const problem = templateProblem(value, allowed);
    if (problem) context.addIssue({ code: 'custom', path, message: problem });
  };
  for (const [name, value] of Object.entries(config.params ?? {})) check(value, ['params', name]);
  for (const [name, value] of Object.entries(config.headers ?? {})) check(value, ['headers', name]);
  // A path is requested on every read, full ones too: the incremental window is not there to fill it.
  const pathNames = Object.keys(TEMPLATE_NAMES).filter((name) => name !== 'last_run' && name !== 'run_started_at');
  for (const [stream, endpoint] of Object.entries(config.endpoints)) {
    check(endpoint.path, ['endpoints', stream, 'path'], pathNames);
    for (const [name, value] of Object.entries(endpoint.params ?? {})) check(value, ['endpoints', stream, 'params', name]);
    for (const [name, value] of Object.entries(endpoint.headers ?? {})) check(value, ['endpoints', stream, 'headers', name]);
    forEachString(endpoint.body, ['endpoints', stream, 'body'], check);
  }
}

/** Calls `visit` with every string of a JSON value and where it is. */
function forEachString(value: unknown, path: string[], visit: (text: string, path: string[]) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, index) => forEachString(item, [...path, String(index)], visit));
  else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) forEachString(item, [...path, key], visit);
}

/** A JSON body with its templates rendered; a key whose template uses the incremental window is left out of a full read. */
function renderBody(value: unknown, context: RequestContext): unknown {
  if (typeof value === 'string') return renderTemplate(value, context);
  if (Array.isArray(value)) return value.map((item) => renderBody(item, context));
  if (value === null || typeof value !== 'object') return value;
  const rendered: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) if (context.window || !usesWindow(item)) rendered[key] = renderBody(item, context);
  return rendered;
}

/** Sets `value` at a dotted path of `target` (`variables.after`), making the objects on the way. */
function setAt(target: Record<string, unknown>, dotPath: string, value: unknown): void {
  const keys = dotPath.split('.');
  let current = target;
  for (const key of keys.slice(0, -1)) {
    const next = current[key];
    current = current[key] = next !== null && typeof next === 'object' && !Array.isArray(next) ? { ...(next as Record<string, unknown>) } : {};
  }
  current[keys.at(-1)!] = value;
}

/** Whether a stream's requests carry the incremental window in a template. */
function windowTemplated(config: { params?: Record<string, unknown>; headers?: Record<string, unknown> }, endpoint: RestEndpoint): boolean {
  let inBody = false;
  forEachString(endpoint.body, [], (text) => (inBody ||= usesWindow(text)));
  return inBody || [config.params, config.headers, endpoint.params, endpoint.headers].some((values) => Object.values(values ?? {}).some(usesWindow));
}

/** The value at a dot path (`data.items`) of a JSON body; '' is the body itself. */
function at(body: unknown, dotPath: string): unknown {
  if (dotPath === '') return body;
  return dotPath.split('.').reduce<unknown>((value, key) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), body);
}

function describeBody(body: unknown): string {
  if (Array.isArray(body)) return 'an array';
  if (body !== null && typeof body === 'object') return `an object with keys ${Object.keys(body).slice(0, 8).join(', ') || '(none)'}`;
  return typeof body;
}

/** The rel="next" URL of a Link header. */
function nextLink(header: unknown): string | undefined {
  for (const part of String(header ?? '').split(',')) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (match) return match[1];
  }
  return undefined;
}

/**
 * The built-in `rest` source: a REST API described in the pipeline YAML —
 * endpoints, record selector, primary key, paginator, incremental parameter —
 * run on the same engine as a source class (activities, retries, checkpoints,
 * schedules, dry-run).
 */
export class RestSource extends AbstractSource<RestSourceConfig> {
  static override sourceName = 'rest';

  /** Its streams are the config's `endpoints` ('*': any stream the config describes). */
  static override streams(): string[] {
    return ['*'];
  }

  static override getConfigClass() {
    return RestSourceConfig;
  }

  /** The fleet-wide pace of the configured stream, when its endpoint sets one. */
  static requestsPerSecond(config: RestSourceConfig): number | undefined {
    return config.endpoints[config.stream]?.requests_per_second;
  }

  private get endpoint(): RestEndpoint {
    return this.config.endpoints[this.config.stream]!;
  }

  private get paginator(): RestPaginator {
    return this.endpoint.paginator ?? this.config.paginator;
  }

  override getAuthenticator(): Authenticator | undefined {
    return this.config.authentication ? AuthBuilder.fromConfig(this.config.authentication) : undefined;
  }

  async checkConnection(): Promise<[boolean, string | null]> {
    try {
      const context = this.requestContext(undefined);
      const request = { headers: this.headers(context), params: this.params({}, context) };
      // check_path is asked with a GET; the stream's own endpoint as its pages are (a search API answers only a POST).
      const response = this.config.check_path
        ? await this.session.get(this.url(this.config.check_path), request)
        : await this.session.request({ ...request, method: this.endpoint.method, url: this.url(renderTemplate(this.endpoint.path, context)), ...(this.endpoint.method === 'POST' ? { data: renderBody(this.endpoint.body ?? {}, context) } : {}) });
      return [response.status < 400, null];
    } catch (error) {
      return [false, String(error)];
    }
  }

  async get(pagination?: Pagination): Promise<SourceIteration> {
    return this.page(pagination, {});
  }

  override async getRecordsAfter(state: SourceIncrementalState, pagination?: Pagination): Promise<SourceIteration> {
    const incremental = this.endpoint.incremental;
    if (!incremental) throw new NonRetryableError(`Stream '${this.config.stream}' of the rest source has no incremental: { param, cursor_field }`);
    const filters = {
      ...(incremental.param ? { [incremental.param]: state.lastRun.toISOString() } : {}),
      ...(incremental.until_param && state.runStartedAt ? { [incremental.until_param]: state.runStartedAt.toISOString() } : {}),
    };
    return this.page(pagination, filters, { lastRun: state.lastRun, ...(state.runStartedAt ? { runStartedAt: state.runStartedAt } : {}) });
  }

  private url(pathOrUrl: string): string {
    return /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.config.base_url.replace(/\/$/, '')}/${pathOrUrl.replace(/^\//, '')}`;
  }

  /**
   * A next-page URL the source may follow: relative ones resolve against the page's own URL, and the request
   * (with the source's credentials) goes only to base_url's origin or one of `api_config.allowed_hosts`.
   */
  private followable(next: string, from: string): URL {
    const url = new URL(next, from);
    const home = new URL(this.config.base_url);
    if (!isAllowedOrigin(url, home.origin, this.config.api_config.allowed_hosts)) {
      throw new NonRetryableError(
        `The next page of stream '${this.config.stream}' is on ${url.origin}, not on base_url's origin (${home.origin}): the source sends its credentials only there. ` +
          `If ${url.origin} is the same API, list it in source.api_config.allowed_hosts`,
      );
    }
    return url;
  }

  /**
   * The next page's URL as it is kept in the pagination (durable workflow state, shown in history): checked like
   * {@link followable}, without the source's own query parameters — a key the API echoes back never gets stored;
   * they are sent again with the request.
   */
  private nextUrl(next: string, response: AxiosResponse): string {
    const url = this.followable(next, axios.getUri(response.config));
    for (const name of Object.keys({ ...this.config.params, ...this.endpoint.params })) url.searchParams.delete(name);
    return url.toString();
  }

  /** What the templates of a request see: the incremental window when there is one, the pagination, the config. */
  private requestContext(pagination: Pagination | undefined, window?: RequestContext['window']): RequestContext {
    const paginator = this.paginator;
    return {
      ...(window ? { window } : {}),
      config: this.config as unknown as Record<string, unknown>,
      cursor: pagination?.cursor ?? null,
      ...(paginator.type === 'page_number' ? { page: Number(pagination?.page ?? paginator.start_page) } : {}),
      ...(paginator.type === 'offset' ? { offset: Number(pagination?.offset ?? 0) } : {}),
    };
  }

  /** The source's and the stream's query parameters, templates rendered, and `extra` over them. */
  private params(extra: Record<string, unknown>, context: RequestContext): Record<string, unknown> {
    return { ...renderAll(this.config.params, context), ...renderAll(this.endpoint.params, context), ...extra };
  }

  /** The source's and the stream's headers, templates rendered. */
  private headers(context: RequestContext): Record<string, string> {
    return { ...renderAll(this.config.headers, context), ...renderAll(this.endpoint.headers, context) };
  }

  private async page(pagination: Pagination | undefined, filters: Record<string, string>, window?: RequestContext['window']): Promise<SourceIteration> {
    const paginator = this.paginator;
    const context = this.requestContext(pagination, window);
    let url = this.url(renderTemplate(this.endpoint.path, context));
    let params: Record<string, unknown> = this.params(filters, context);
    // The paginator's own parameters: in the query, or (inject: body) in the POST's body.
    const paging: Record<string, unknown> = {};
    switch (paginator.type) {
      case 'page_number':
        Object.assign(paging, { [paginator.page_param]: Number(pagination?.page ?? paginator.start_page), [paginator.size_param]: paginator.page_size });
        break;
      case 'offset':
        Object.assign(paging, { [paginator.offset_param]: Number(pagination?.offset ?? 0), [paginator.limit_param]: paginator.limit });
        break;
      case 'cursor':
        if (paginator.size_param && paginator.page_size) paging[paginator.size_param] = paginator.page_size;
        if (pagination?.cursor !== undefined) paging[paginator.cursor_param] = pagination.cursor;
        break;
      case 'link_header':
      case 'next_url':
        // The next URL holds the API's parameters; the source's own (taken out of it) are sent again.
        if (typeof pagination?.next_url === 'string') [url, params] = [this.followable(pagination.next_url, url).toString(), this.params({}, context)];
        break;
    }
    let data: Record<string, unknown> | undefined;
    if (this.endpoint.method === 'POST') data = (renderBody(this.endpoint.body ?? {}, context) ?? {}) as Record<string, unknown>;
    if ('inject' in paginator && paginator.inject === 'body') for (const [name, value] of Object.entries(paging)) setAt((data ??= {}), name, value);
    else params = { ...params, ...paging };
    const response = await this.session.request({ method: this.endpoint.method, url, params, headers: this.headers(context), ...(data ? { data } : {}) });
    const records = this.recordsOf(response);
    return { records, nextPagination: this.nextPagination(paginator, pagination, response, records.length) };
  }

  private recordsOf(response: AxiosResponse): SourceRecord[] {
    const where = `${this.endpoint.method} ${response.config.url ?? this.endpoint.path}`;
    if (typeof response.data !== 'object' || response.data === null) {
      throw new NonRetryableError(`The rest source expects JSON from ${where}, got ${typeof response.data}: ${WRITE_A_CLASS}`);
    }
    const found = at(response.data, this.endpoint.record_selector);
    if (!Array.isArray(found)) {
      const what = found === undefined ? 'found nothing' : `found ${describeBody(found)}, not an array`;
      throw new NonRetryableError(
        `record_selector '${this.endpoint.record_selector}' of stream '${this.config.stream}' ${what} in the response of ${where} (the body is ${describeBody(response.data)}): fix record_selector, or ${WRITE_A_CLASS}`,
      );
    }
    const key = this.endpoint.primary_key;
    const cursorField = this.endpoint.incremental?.cursor_field;
    return found.map((item: Record<string, unknown>, index) => {
      const id = item?.[key];
      if (typeof id !== 'string' && typeof id !== 'number') {
        throw new NonRetryableError(`Record ${index} from ${where} has no '${key}' (primary_key of stream '${this.config.stream}'); its keys: ${Object.keys(item ?? {}).join(', ')}`);
      }
      const changed = cursorField ? item[cursorField] : undefined;
      return { id, data: item, ...(typeof changed === 'string' ? { timestamp: changed } : {}) };
    });
  }

  private nextPagination(paginator: RestPaginator, pagination: Pagination | undefined, response: AxiosResponse, count: number): Pagination {
    switch (paginator.type) {
      case 'page_number': {
        const page = Number(pagination?.page ?? paginator.start_page);
        const total = paginator.total_pages_path ? Number(at(response.data, paginator.total_pages_path)) : undefined;
        const more = total !== undefined && Number.isFinite(total) ? page < total + paginator.start_page - 1 : count >= paginator.page_size;
        return more ? { page: page + 1 } : {};
      }
      case 'offset':
        return count >= paginator.limit ? { offset: Number(pagination?.offset ?? 0) + count } : {};
      case 'cursor': {
        const cursor = paginator.cursor_path ? at(response.data, paginator.cursor_path) : response.headers[paginator.cursor_header!.toLowerCase()];
        if (paginator.has_more_path && !at(response.data, paginator.has_more_path)) return {};
        return cursor !== undefined && cursor !== null && cursor !== '' ? { cursor: String(cursor) } : {};
      }
      case 'link_header': {
        const next = nextLink(response.headers.link);
        return next ? { next_url: this.nextUrl(next, response) } : {};
      }
      case 'next_url': {
        const next = at(response.data, paginator.next_url_path);
        return typeof next === 'string' && next !== '' ? { next_url: this.nextUrl(next, response) } : {};
      }
      case 'none':
        return {};
    }
  }
}
