import axios, { type AxiosResponse } from 'axios';
import { HttpError, NonRetryableError, RateLimitError } from '../errors.ts';
import { isAllowedOrigin } from './session.ts';
import type { Pagination, SourceIncrementalState, SourceIteration, SourceRecord, SourceSlice } from './models.ts';
import { MAX_PARENT_PAGES, parentDestination, parentSlices, windowFilters, windowOf, withParentFields, type StreamRef } from './rest-parents.ts';
import { AbstractSource, type SliceContext } from './source.ts';
import { dateWindows, isWindowed, windowOfSlice } from './rest-windows.ts';
import { RestSourceConfig, type RestEndpoint, type RestPaginator } from './rest-config.ts';
import { decodeBody } from './rest-decoders.ts';
import { restHook, type PaginatedRequest } from './rest-hooks.ts';
import { applyResponseAction, at, describeBody, matchResponseAction, nextLink, parseJson } from './rest-responses.ts';
import { conditionHolds, renderAll, renderBody, renderTemplate, setAt, type RequestContext } from './rest-templates.ts';

export { RestEndpoint, RestPaginator, RestSourceConfig } from './rest-config.ts';

const WRITE_A_CLASS = 'an API the declarative form cannot express is a source class of your own (docs/sources.md)';

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

  /**
   * A dependent stream (`parent:`) is read in slices, one per parent record, at most `parent_concurrency` at once
   * (default `engine.max_parallel_slices`); the other streams page on their own.
   */
  static slicing(config: RestSourceConfig): { maxParallel?: number } | null {
    const endpoint = config.endpoints[config.stream];
    if (endpoint && isWindowed(endpoint)) return {};
    if (!endpoint?.parent) return null;
    return endpoint.parent_concurrency !== undefined ? { maxParallel: endpoint.parent_concurrency } : {};
  }

  private get endpoint(): RestEndpoint {
    return this.config.endpoints[this.config.stream]!;
  }

  private paginatorOf(endpoint: RestEndpoint): RestPaginator {
    return endpoint.paginator ?? this.config.paginator;
  }

  /** The configured stream, as its requests are made. */
  private get stream(): StreamRef {
    return { name: this.config.stream, endpoint: this.endpoint };
  }

  async checkConnection(): Promise<[boolean, string | null]> {
    try {
      const { endpoint } = this.stream;
      // A dependent stream's own path needs a parent: its check asks for the parent stream's first page.
      if (endpoint.parent && !this.config.check_path) {
        await this.page(this.streamRef(endpoint.parent), undefined, {});
        return [true, null];
      }
      const context = this.requestContext(this.stream, undefined);
      const request = { headers: this.headers(this.stream, context), params: this.params(this.stream, {}, context) };
      // check_path is asked with a GET; the stream's own endpoint as its pages are (a search API answers only a POST).
      const response = this.config.check_path
        ? await this.session.get(this.url(this.config.check_path), request)
        : await this.session.request({ ...request, method: endpoint.method, url: this.url(renderTemplate(endpoint.path, context)), ...(endpoint.method === 'POST' ? { data: renderBody(endpoint.body ?? {}, context) } : {}) });
      return [response.status < 400, null];
    } catch (error) {
      return [false, String(error)];
    }
  }

  async get(pagination?: Pagination, slice?: SourceSlice): Promise<SourceIteration> {
    const window = windowOfSlice(slice);
    // A date window is read as the window says, on a full read too (from incremental.start).
    if (window) return this.page(this.stream, pagination, windowFilters(this.endpoint.incremental!, window), window);
    return this.childPage(slice, (parent) => this.page(this.stream, pagination, {}, undefined, parent), pagination);
  }

  override async getRecordsAfter(state: SourceIncrementalState, pagination?: Pagination, slice?: SourceSlice): Promise<SourceIteration> {
    const incremental = this.endpoint.incremental;
    if (!incremental) throw new NonRetryableError(`Stream '${this.config.stream}' of the rest source has no incremental: { param, cursor_field }`);
    const window = windowOfSlice(slice) ?? windowOf(state);
    return this.childPage(slice, (parent) => this.page(this.stream, pagination, windowFilters(incremental, window), window, parent), pagination);
  }

  /**
   * A stream read in date windows: one slice per window (see sources/rest-windows.ts). A dependent stream's
   * slices: one per parent record — every parent, or (`parents: changed`, incremental) those
   * the parent's own incremental says changed since this stream's last run. Each is a partition with its own
   * watermark.
   */
  override async getSlices(state: SourceIncrementalState | null, context?: SliceContext): Promise<SourceSlice[]> {
    const { endpoint } = this.stream;
    if (isWindowed(endpoint)) return dateWindows(endpoint.incremental!, state, context?.runStartedAt ?? state?.runStartedAt ?? new Date());
    if (!endpoint.parent) return [{}];
    const window = state && endpoint.parents === 'changed' ? windowOf(state) : undefined;
    const parents = await this.readAll(this.streamRef(endpoint.parent), window);
    return parentSlices(endpoint, parents);
  }

  /** Every record of a stream (a parent), page after page, its own parents read first when it has some. */
  private async readAll(stream: StreamRef, window: RequestContext['window'] | undefined): Promise<SourceRecord[]> {
    const { endpoint } = stream;
    const filters = window && endpoint.incremental ? windowFilters(endpoint.incremental, { lastRun: window.lastRun, ...(window.runStartedAt ? { runStartedAt: window.runStartedAt } : {}) }) : {};
    const readFor = async (parent: Record<string, unknown> | undefined) => {
      const records: SourceRecord[] = [];
      for (let pagination: Pagination | undefined, pages = 0; ; pages += 1) {
        if (pages >= MAX_PARENT_PAGES) throw new NonRetryableError(`Stream '${stream.name}', a parent, gave more than ${MAX_PARENT_PAGES} pages: does its paginator end?`);
        const page = await this.page(stream, pagination, filters, endpoint.incremental ? window : undefined, parent);
        records.push(...page.records);
        if (!page.nextPagination || Object.keys(page.nextPagination).length === 0) return records;
        pagination = page.nextPagination;
      }
    };
    if (!endpoint.parent) return readFor(undefined);
    const grandparents = await this.readAll(this.streamRef(endpoint.parent), endpoint.parents === 'changed' ? window : undefined);
    const records: SourceRecord[] = [];
    for (const grandparent of grandparents) records.push(...(await readFor(grandparent.data)));
    return records;
  }

  /** A page of a dependent stream: the parent's fields added to its records, and (write_parent) the parent first. */
  private async childPage(slice: SourceSlice | undefined, read: (parent: Record<string, unknown> | undefined) => Promise<SourceIteration>, pagination: Pagination | undefined): Promise<SourceIteration> {
    const { endpoint } = this.stream;
    if (!endpoint.parent) return read(undefined);
    const parent = slice?.parent as Record<string, unknown> | undefined;
    if (!parent) throw new NonRetryableError(`Stream '${this.config.stream}' depends on '${endpoint.parent}': its pages are read per parent, in the slices getSlices() gives`);
    const page = await read(parent);
    const records = page.records.map((record) => ({ ...record, data: withParentFields(record.data, parent, endpoint.parent_fields) }));
    const parentRecord = slice?.record as SourceRecord | undefined;
    if (parentRecord && pagination === undefined) records.unshift({ ...parentRecord, destinationId: parentDestination(this.config, endpoint.parent) });
    return { ...page, records };
  }

  private streamRef(name: string): StreamRef {
    return { name, endpoint: this.config.endpoints[name]! };
  }

  private url(pathOrUrl: string): string {
    return /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.config.base_url.replace(/\/$/, '')}/${pathOrUrl.replace(/^\//, '')}`;
  }

  /**
   * A next-page URL the source may follow: relative ones resolve against the page's own URL, and the request
   * (with the source's credentials) goes only to base_url's origin or one of `api_config.allowed_hosts`.
   */
  private followable(stream: StreamRef, next: string, from: string): URL {
    const url = new URL(next, from);
    const home = new URL(this.config.base_url);
    if (!isAllowedOrigin(url, home.origin, this.config.api_config.allowed_hosts)) {
      throw new NonRetryableError(
        `The next page of stream '${stream.name}' is on ${url.origin}, not on base_url's origin (${home.origin}): the source sends its credentials only there. ` +
          `If ${url.origin} is the same API, list it in source.api_config.allowed_hosts`,
      );
    }
    return url;
  }

  /**
   * The next page's URL as it is kept in the pagination (durable workflow state, shown in history): checked like
   * {@link followable}, without the source's own query parameters the API echoed back as they were sent — a key
   * never gets stored; they are sent again with the request. One the API moved on (`_page=1` sent, `_page=2` in the
   * next link) is the API's paging: it stays, and is not sent again.
   */
  private nextUrl(stream: StreamRef, next: string, response: AxiosResponse): string {
    const url = this.followable(stream, next, axios.getUri(response.config));
    const sent = (response.config.params ?? {}) as Record<string, unknown>;
    for (const name of Object.keys({ ...this.config.params, ...stream.endpoint.params })) {
      if (!url.searchParams.has(name) || url.searchParams.get(name) === String(sent[name])) url.searchParams.delete(name);
    }
    return url.toString();
  }

  /** The source's own parameters for a next URL: all but those the URL holds (the API's paging). */
  private paramsFor(stream: StreamRef, nextUrl: URL, context: RequestContext): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.params(stream, {}, context)).filter(([name]) => !nextUrl.searchParams.has(name)));
  }

  /** What the templates of a request see: the incremental window when there is one, the pagination, the config. */
  private requestContext(stream: StreamRef, pagination: Pagination | undefined, window?: RequestContext['window'], parent?: Record<string, unknown>): RequestContext {
    const paginator = this.paginatorOf(stream.endpoint);
    return {
      ...(window ? { window } : {}),
      ...(parent ? { parent } : {}),
      config: this.config as unknown as Record<string, unknown>,
      cursor: pagination?.cursor ?? null,
      ...(paginator.type === 'page_number' ? { page: Number(pagination?.page ?? paginator.start_page) } : {}),
      ...(paginator.type === 'offset' ? { offset: Number(pagination?.offset ?? 0) } : {}),
    };
  }

  /** The source's and the stream's query parameters, templates rendered, and `extra` over them. */
  private params(stream: StreamRef, extra: Record<string, unknown>, context: RequestContext): Record<string, unknown> {
    return { ...renderAll(this.config.params, context), ...renderAll(stream.endpoint.params, context), ...extra };
  }

  /** The source's and the stream's headers, templates rendered. */
  private headers(stream: StreamRef, context: RequestContext): Record<string, string> {
    return { ...renderAll(this.config.headers, context), ...renderAll(stream.endpoint.headers, context) };
  }

  private async page(stream: StreamRef, pagination: Pagination | undefined, filters: Record<string, string>, window?: RequestContext['window'], parent?: Record<string, unknown>): Promise<SourceIteration> {
    const { endpoint } = stream;
    const paginator = this.paginatorOf(endpoint);
    const context = this.requestContext(stream, pagination, window, parent);
    let url = this.url(renderTemplate(endpoint.path, context));
    let params: Record<string, unknown> = this.params(stream, filters, context);
    // The paginator's own parameters: in the query, or (inject: body) in the POST's body.
    const paging: Record<string, unknown> = {};
    let custom: PaginatedRequest = {};
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
        if (typeof pagination?.next_url === 'string') {
          const next = this.followable(stream, pagination.next_url, url);
          [url, params] = [next.toString(), this.paramsFor(stream, next, context)];
        }
        break;
      case 'custom':
        custom = restHook('bizon-rest-paginator', paginator.function).request?.(pagination, paginator.options) ?? {};
        if (custom.url !== undefined) url = this.followable(stream, custom.url, url).toString();
        Object.assign(paging, custom.params);
        break;
    }
    let data: Record<string, unknown> | undefined;
    if (endpoint.method === 'POST') data = (renderBody(endpoint.body ?? {}, context) ?? {}) as Record<string, unknown>;
    if (custom.body) data = { ...data, ...custom.body };
    if ('inject' in paginator && paginator.inject === 'body') for (const [name, value] of Object.entries(paging)) setAt((data ??= {}), name, value);
    else params = { ...params, ...paging };
    let response: AxiosResponse;
    try {
      response = await this.session.request({ method: endpoint.method, url, params, headers: { ...this.headers(stream, context), ...custom.headers }, ...(data ? { data } : {}), ...(endpoint.decoder ? { responseType: 'arraybuffer' } : {}) });
      if (endpoint.decoder) {
        const maxBytes = this.config.api_config.max_response_mb * 1024 * 1024;
        response.data = decodeBody(response.data as Buffer, endpoint.decoder, { maxBytes, ...(endpoint.csv_delimiter ? { delimiter: endpoint.csv_delimiter } : {}) }, `${endpoint.method} ${url}`);
      }
    } catch (error) {
      // An answer the session refused (4xx, 5xx, 429): a response action may say otherwise.
      const status = error instanceof HttpError ? error.status : error instanceof RateLimitError ? 429 : undefined;
      if (status === undefined) throw error;
      const refused = error as HttpError;
      const body = parseJson(refused.bodyExcerpt);
      const action = matchResponseAction(stream, status, body, this.config);
      if (!action) throw error;
      return applyResponseAction(stream, action, { status, body, headers: refused.headers ?? {}, message: error instanceof Error ? error.message : String(error) });
    }
    const action = endpoint.response_actions ? matchResponseAction(stream, response.status, response.data, this.config) : undefined;
    if (action) return applyResponseAction(stream, action, { status: response.status, body: response.data, headers: response.headers as Record<string, string>, message: `HTTP ${response.status} from ${endpoint.method} ${response.config.url}` });
    const records = this.recordsOf(stream, response);
    const filter = endpoint.record_filter;
    const kept = filter ? records.filter((record) => conditionHolds(filter, { record: record.data, config: this.config })) : records;
    // Paging goes by what the API returned, the records filtered out counted.
    return { records: kept, nextPagination: this.nextPagination(stream, paginator, pagination, response, records.length) };
  }

  private recordsOf(stream: StreamRef, response: AxiosResponse): SourceRecord[] {
    const { endpoint } = stream;
    const where = `${endpoint.method} ${response.config.url ?? endpoint.path}`;
    if (typeof response.data !== 'object' || response.data === null) {
      throw new NonRetryableError(`The rest source expects JSON from ${where}, got ${typeof response.data}: a body in JSON Lines, CSV or XML is read with the stream's decoder: jsonl | csv | xml; otherwise, ${WRITE_A_CLASS}`);
    }
    const selected = at(response.data, endpoint.record_selector);
    // A detail endpoint (/users/{{ parent.id }}) answers one object: one record; so does an XML element found once.
    const single = selected !== null && typeof selected === 'object' && !Array.isArray(selected) && (endpoint.record_selector === '' || endpoint.decoder === 'xml');
    const found = single ? [selected] : selected;
    if (!Array.isArray(found)) {
      const what = found === undefined ? 'found nothing' : `found ${describeBody(found)}, not an array`;
      throw new NonRetryableError(
        `record_selector '${endpoint.record_selector}' of stream '${stream.name}' ${what} in the response of ${where} (the body is ${describeBody(response.data)}): fix record_selector, or ${WRITE_A_CLASS}`,
      );
    }
    const key = endpoint.primary_key;
    const cursorField = endpoint.incremental?.cursor_field;
    return found.map((item: Record<string, unknown>, index) => {
      const id = item?.[key];
      if (typeof id !== 'string' && typeof id !== 'number') {
        throw new NonRetryableError(`Record ${index} from ${where} has no '${key}' (primary_key of stream '${stream.name}'); its keys: ${Object.keys(item ?? {}).join(', ')}`);
      }
      const changed = cursorField ? item[cursorField] : undefined;
      return { id, data: item, ...(typeof changed === 'string' ? { timestamp: changed } : {}) };
    });
  }

  private nextPagination(stream: StreamRef, paginator: RestPaginator, pagination: Pagination | undefined, response: AxiosResponse, count: number): Pagination {
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
        return next ? { next_url: this.nextUrl(stream, next, response) } : {};
      }
      case 'next_url': {
        const next = at(response.data, paginator.next_url_path);
        return typeof next === 'string' && next !== '' ? { next_url: this.nextUrl(stream, next, response) } : {};
      }
      case 'none':
        return {};
      case 'custom': {
        const headers = Object.fromEntries(Object.entries(response.headers).map(([name, value]) => [name, String(value)]));
        return restHook('bizon-rest-paginator', paginator.function).next({ status: response.status, headers, body: response.data, records: count, pagination }, paginator.options) ?? {};
      }
    }
  }
}
