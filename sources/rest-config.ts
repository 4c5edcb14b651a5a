/**
 * The config of the declarative `rest` source (`source.name: rest`): endpoints, paginators, incremental
 * parameters, methods and bodies — and the checks that make a mistake fail `check`, not a page.
 */
import ms from 'ms';
import { z } from 'zod';
import { SourceConfig } from './config.ts';
import { restHook } from './rest-hooks.ts';
import { conditionProblem, forEachString, isTemplate, TEMPLATE_NAMES, templateProblem, usesWindow } from './rest-templates.ts';

/** An ISO 8601 date or time (2026-01-01, 2026-01-01T06:00:00Z). */
const IsoTime = z.string().refine((text) => /^\d{4}-\d{2}-\d{2}/.test(text) && Number.isFinite(Date.parse(text)), { message: 'an ISO 8601 date or time, e.g. 2026-01-01 or 2026-01-01T06:00:00Z' });

/** A span of time: 7d, 12h, 30m (at least a second). */
const Span = z.string().refine((text) => (spanMs(text) ?? 0) >= 1000, { message: 'a span of time of at least 1s, e.g. 7d, 12h, 30m' });

/** A span's milliseconds (`7d`, `12h`, `90s`), or undefined. */
export function spanMs(text: string): number | undefined {
  const value = ms(text as Parameters<typeof ms>[0]) as number | undefined;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

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
  z.strictObject({
    type: z.literal('custom').describe('a paginator of your own: definePaginator() in a --custom-source file'),
    function: z.string().min(1).describe('The name it was defined with'),
    options: z.record(z.string(), z.unknown()).default({}).describe('Given to its request() and next()'),
  }),
]);
export type RestPaginator = z.infer<typeof RestPaginator>;

/** What to do with a response: matched by its status, by a condition on it, or both. */
export const ResponseAction = z
  .strictObject({
    status: z.union([z.number().int(), z.array(z.number().int())]).optional().describe('The HTTP status (or statuses) this action is for'),
    when: z.string().optional().describe("A condition on the response: \"{{ response.error == 'quota' }}\" (response: its JSON body; status)"),
    action: z
      .enum(['ignore', 'retry', 'fail', 'rate_limited'])
      .describe('ignore: an empty last page; retry: retried with the backoff; fail: the sync fails at once; rate_limited: retried after the wait the API says'),
    wait_header: z.string().optional().describe('rate_limited: the header holding the wait (seconds or an HTTP date), e.g. Retry-After'),
    wait_path: z.string().optional().describe('rate_limited: the path in the JSON body to the wait, in seconds'),
  })
  .refine((action) => action.status !== undefined || action.when !== undefined, { message: 'a response action needs status, when, or both' });
export type ResponseAction = z.infer<typeof ResponseAction>;

/** One stream of the declarative source: where its records are and how they page. */
export const RestEndpoint = z.strictObject({
  path: z.string().min(1).describe('Path after base_url (e.g. /users; a template may use cursor, page, offset, config)'),
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional().describe("Query parameters of every request (a value may be a template: filter: \"updated>'{{ last_run | date: '%Y-%m-%d' }}'\")"),
  headers: z.record(z.string(), z.string()).optional().describe("Headers of this stream's requests, over the source-wide ones (templates allowed)"),
  method: z.enum(['GET', 'POST']).default('GET').describe('GET, or POST for search and GraphQL APIs (with body)'),
  body: z.record(z.string(), z.unknown()).optional().describe('JSON body of a POST; its strings may be templates'),
  decoder: z
    .enum(['json', 'jsonl', 'csv', 'xml'])
    .optional()
    .describe("How bodies are read: json (the default), jsonl (JSON Lines), csv (header row: field names; values strings), xml (attributes as fields); any of them gzip'd"),
  csv_delimiter: z.string().length(1).optional().describe('decoder: csv — the field delimiter (default ,)'),
  record_selector: z.string().default('').describe("Path in the JSON body to the array of records ('' = the body itself, data, data.items…)"),
  primary_key: z.string().default('id').describe('Field of a record holding its id'),
  record_filter: z.string().optional().describe("Keeps the records for which this condition holds: \"{{ record.status != 'deleted' }}\""),
  response_actions: z.array(ResponseAction).optional().describe('What to do with responses the source would otherwise fail or accept, the first that matches'),
  paginator: RestPaginator.optional().describe('How pages follow each other (default: the source-wide paginator)'),
  incremental: z
    .strictObject({
      param: z.string().optional().describe('Query parameter that gets the watermark (e.g. updated_since); or a parameter templated with last_run'),
      cursor_field: z.string().describe('Field of a record holding its change time'),
      until_param: z.string().optional().describe("Query parameter that gets this run's start, to read (watermark, start]"),
      start: IsoTime.optional().describe('Where the data begins: a read without a watermark (the first sync, a full refresh) reads from here, not everything'),
      end: IsoTime.optional().describe('Where reading stops (a bounded backfill); default: the sync\'s start'),
      window: Span.optional().describe('Read in date windows of this span (7d, 12h), each a slice read in parallel and checkpointed on its own'),
      lookback: Span.optional().describe('An incremental sync starts this long before its watermark (1h), for records the API shows late'),
    })
    .optional()
    .describe('How an incremental sync asks for what changed'),
  requests_per_second: z.number().positive().optional().describe('Pace of this stream’s requests across all workers'),
  parent: z.string().optional().describe("A dependent stream: the stream (in endpoints) whose records this one is read for, each a slice with its own watermark: path: /posts/{{ parent.id }}/comments"),
  parent_key: z.string().optional().describe("Field of a parent record that identifies it (its watermark's key); default: the parent stream's primary_key"),
  parents: z
    .enum(['all', 'changed'])
    .default('all')
    .describe("Which parents an incremental sync reads children of: all (each from its own watermark), or changed (those the parent stream's incremental finds changed since this stream's last sync)"),
  parent_fields: z
    .union([z.array(z.string()), z.record(z.string(), z.string())])
    .optional()
    .describe('Parent fields copied into each child record: [title] adds parent_title; { post_title: title } names it'),
  parent_concurrency: z.number().int().positive().optional().describe("Parents whose children are read at once (default: engine.max_parallel_slices)"),
  write_parent: z
    .union([z.boolean(), z.string()])
    .default(false)
    .describe('Also write each parent record read, before its children: to <source>_<parent>, or to the destination id given'),
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
  checkParents(config, context);
  checkWindows(config, context);
  checkHooks(config, context);
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
  const allNames = Object.keys(TEMPLATE_NAMES);
  const sourceWide = allNames.filter((name) => name !== 'parent');
  for (const [name, value] of Object.entries(config.params ?? {})) check(value, ['params', name], sourceWide);
  for (const [name, value] of Object.entries(config.headers ?? {})) check(value, ['headers', name], sourceWide);
  // A path is requested on every read, full ones too: the incremental window is not there to fill it.
  const pathNames = Object.keys(TEMPLATE_NAMES).filter((name) => name !== 'last_run' && name !== 'run_started_at');
  for (const [stream, endpoint] of Object.entries(config.endpoints)) {
    // Only a dependent stream's own requests have a parent.
    const withParent = (names: readonly string[]) => (endpoint.parent ? names : names.filter((name) => name !== 'parent'));
    check(endpoint.path, ['endpoints', stream, 'path'], withParent(pathNames));
    for (const [name, value] of Object.entries(endpoint.params ?? {})) check(value, ['endpoints', stream, 'params', name], withParent(allNames));
    for (const [name, value] of Object.entries(endpoint.headers ?? {})) check(value, ['endpoints', stream, 'headers', name], withParent(allNames));
    forEachString(endpoint.body, ['endpoints', stream, 'body'], (value, path) => check(value, path, withParent(allNames)));
    const checkCondition = (text: string | undefined, path: string[], allowed: readonly string[]) => {
      const problem = text === undefined ? undefined : conditionProblem(text, allowed);
      if (problem) context.addIssue({ code: 'custom', path, message: problem });
    };
    checkCondition(endpoint.record_filter, ['endpoints', stream, 'record_filter'], ['record', 'config']);
    endpoint.response_actions?.forEach((action, index) => checkCondition(action.when, ['endpoints', stream, 'response_actions', String(index), 'when'], ['response', 'status', 'config']));
  }
}

/** A dependent stream names a stream of the config, without a cycle; `parents: changed` needs the parent's incremental. */
function checkParents(config: { sync_mode: string; endpoints: Record<string, RestEndpoint> }, context: RefinementContext): void {
  for (const [name, endpoint] of Object.entries(config.endpoints)) {
    if (endpoint.parent === undefined) continue;
    const path = ['endpoints', name, 'parent'];
    const parent = config.endpoints[endpoint.parent];
    if (!parent) {
      context.addIssue({ code: 'custom', path, message: `'${endpoint.parent}' is not one of endpoints (${Object.keys(config.endpoints).join(', ')})` });
      continue;
    }
    const chain = [name];
    for (let current: string | undefined = endpoint.parent; current !== undefined; current = config.endpoints[current]?.parent) {
      if (chain.includes(current)) {
        context.addIssue({ code: 'custom', path, message: `parents go round in a circle: ${[...chain, current].join(' → ')}` });
        break;
      }
      chain.push(current);
    }
    if (endpoint.parents === 'changed' && !parent.incremental) {
      context.addIssue({ code: 'custom', path: ['endpoints', name, 'parents'], message: `parents: changed reads the parents that changed, which needs incremental: { cursor_field, … } on stream '${endpoint.parent}'` });
    }
    if (endpoint.write_parent !== false && config.sync_mode === 'incremental' && endpoint.parents !== 'changed') {
      context.addIssue({
        code: 'custom',
        path: ['endpoints', name, 'write_parent'],
        message: 'write_parent in an incremental sync needs parents: changed: with parents: all, every sync would append every parent again',
      });
    }
  }
}

/** A custom paginator or authenticator names a function that is loaded. */
function checkHooks(config: { paginator: RestPaginator; authentication?: { type: string; params?: Record<string, unknown> } | undefined; endpoints: Record<string, RestEndpoint> }, context: RefinementContext): void {
  const check = (kind: 'bizon-rest-paginator' | 'bizon-rest-authenticator', name: unknown, path: string[]) => {
    try {
      restHook(kind, String(name));
    } catch (error) {
      context.addIssue({ code: 'custom', path, message: (error as Error).message });
    }
  };
  if (config.paginator.type === 'custom') check('bizon-rest-paginator', config.paginator.function, ['paginator', 'function']);
  for (const [name, endpoint] of Object.entries(config.endpoints)) if (endpoint.paginator?.type === 'custom') check('bizon-rest-paginator', endpoint.paginator.function, ['endpoints', name, 'paginator', 'function']);
  if (config.authentication?.type === 'custom') check('bizon-rest-authenticator', config.authentication.params?.function, ['authentication', 'params', 'function']);
}

/** A stream read in date windows sends each window's end (or every window would read on to now), and has no parent. */
function checkWindows(config: { params?: Record<string, unknown>; headers?: Record<string, unknown>; endpoints: Record<string, RestEndpoint> }, context: RefinementContext): void {
  for (const [name, endpoint] of Object.entries(config.endpoints)) {
    const incremental = endpoint.incremental;
    if (!incremental || (incremental.window === undefined && incremental.end === undefined && incremental.start === undefined)) continue;
    const path = ['endpoints', name, 'incremental'];
    if (endpoint.parent) context.addIssue({ code: 'custom', path, message: 'start, end and window are for a stream of its own: a dependent stream reads each parent from its own watermark' });
    if (incremental.param === undefined && !windowTemplated(config, endpoint)) {
      context.addIssue({ code: 'custom', path: [...path, 'param'], message: "a stream read from a start sends it: name the parameter (param: updated_since), or template one with last_run" });
    }
    if ((incremental.window !== undefined || incremental.end !== undefined) && incremental.until_param === undefined && !windowTemplated(config, endpoint, ['run_started_at'])) {
      context.addIssue({ code: 'custom', path: [...path, 'until_param'], message: "window and end read up to a time, which the request must send: until_param: updated_before, or run_started_at in a template" });
    }
    if (incremental.start !== undefined && incremental.end !== undefined && Date.parse(incremental.start) >= Date.parse(incremental.end)) {
      context.addIssue({ code: 'custom', path: [...path, 'end'], message: `end (${incremental.end}) must come after start (${incremental.start})` });
    }
  }
}

/** Whether a stream's requests carry the incremental window in a template. */
function windowTemplated(config: { params?: Record<string, unknown>; headers?: Record<string, unknown> }, endpoint: RestEndpoint, names?: readonly string[]): boolean {
  const uses = (value: unknown) => usesWindow(value, names);
  let inBody = false;
  forEachString(endpoint.body, [], (text) => (inBody ||= uses(text)));
  return inBody || [config.params, config.headers, endpoint.params, endpoint.headers].some((values) => Object.values(values ?? {}).some(uses));
}
