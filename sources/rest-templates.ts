/**
 * Templated requests of the declarative `rest` source: a query parameter, a header or a path may be a Liquid
 * template (LiquidJS) over the request's context — the incremental window, where the pagination stands, the source's
 * config. A string without `{{` or `{%` is sent as written.
 */
import { Liquid, type Template } from 'liquidjs';

/** The names a template may use, each with what it holds. */
export const TEMPLATE_NAMES = {
  last_run: "the watermark an incremental read starts from (a date: '{{ last_run }}' is ISO 8601, `| date: '%Y-%m-%d %H:%M:%S'` formats it, `| epoch` gives seconds)",
  run_started_at: 'when this sync started, the end of the incremental window (a date, like last_run)',
  cursor: "the cursor paginator's cursor of this page (null on the first page)",
  page: "the page_number paginator's page of this request",
  offset: "the offset paginator's offset of this request",
  config: 'the source config (config.page_size, config.stream…)',
  parent: 'the parent record of a dependent stream (parent: posts) whose children this request reads: parent.id…',
} as const;
export type TemplateName = keyof typeof TEMPLATE_NAMES;

/** Names of the incremental window: a parameter or header using one is sent only when the sync reads from a watermark. */
const WINDOW_NAMES: readonly string[] = ['last_run', 'run_started_at'];

/** A date that renders as ISO 8601 when a template prints it as it is. */
class TemplateDate extends Date {
  override toString(): string {
    return this.toISOString();
  }
}

const liquid = new Liquid({ strictVariables: true, strictFilters: true, ownPropertyOnly: true, timezoneOffset: 0 });
liquid.registerFilter('epoch', (value: unknown) => {
  const time = value instanceof Date ? value.getTime() : new Date(String(value)).getTime();
  return Number.isFinite(time) ? Math.floor(time / 1000) : value;
});

const parsed = new Map<string, Template[]>();

function parse(text: string): Template[] {
  let templates = parsed.get(text);
  if (!templates) {
    templates = liquid.parse(text);
    parsed.set(text, templates);
  }
  return templates;
}

/** Whether a value is a template (holds `{{` or `{%`). */
export function isTemplate(value: unknown): value is string {
  return typeof value === 'string' && (value.includes('{{') || value.includes('{%'));
}

/** What is wrong with a template — its syntax, an unknown filter, a name that does not exist — or undefined. */
export function templateProblem(text: string, allowed: readonly string[] = Object.keys(TEMPLATE_NAMES), label = `template ${JSON.stringify(text)}`): string | undefined {
  let names: string[];
  try {
    names = liquid.globalVariablesSync(parse(text));
  } catch (error) {
    return `${label}: ${(error as Error).message.split(', line:')[0]}`;
  }
  const unknown = names.filter((name) => !allowed.includes(name));
  if (unknown.length === 0) return undefined;
  return `${label} uses ${unknown.map((name) => `'${name}'`).join(', ')}, which ${unknown.length === 1 ? 'does' : 'do'} not exist here; the names that do: ${allowed.join(', ')}`;
}

/** Whether a template uses the incremental window (`last_run`, `run_started_at`). */
export function usesWindow(value: unknown, names: readonly string[] = WINDOW_NAMES): boolean {
  return isTemplate(value) && liquid.globalVariablesSync(parse(value)).some((name) => names.includes(name));
}

/**
 * The parent fields a dependent stream's templates use (`parent.id` → id), or 'all' when one uses the parent whole.
 * Only these travel with each parent's slice.
 */
export function parentFieldsUsed(endpoint: { path: string; params?: Record<string, unknown>; headers?: Record<string, unknown>; body?: unknown }): Set<string> | 'all' {
  const texts: string[] = [endpoint.path, ...Object.values(endpoint.params ?? {}), ...Object.values(endpoint.headers ?? {})].filter(isTemplate);
  forEachString(endpoint.body, [], (text) => isTemplate(text) && texts.push(text));
  const fields = new Set<string>();
  for (const text of texts) {
    for (const [name, field] of liquid.globalVariableSegmentsSync(parse(text))) {
      if (name !== 'parent') continue;
      if (typeof field !== 'string') return 'all';
      fields.add(field);
    }
  }
  return fields;
}

/** What a request's templates see. */
export interface RequestContext {
  window?: { lastRun: Date; runStartedAt?: Date };
  cursor?: unknown;
  page?: number;
  offset?: number;
  config: Record<string, unknown>;
  /** A dependent stream's parent record. */
  parent?: Record<string, unknown>;
}

/** Renders a template with the request's context (a value that is not one is returned as it is). */
export function renderTemplate<T>(value: T, context: RequestContext): T | string {
  if (!isTemplate(value)) return value;
  const { window } = context;
  return liquid.renderSync(parse(value), {
    last_run: window ? new TemplateDate(window.lastRun.getTime()) : null,
    run_started_at: window?.runStartedAt ? new TemplateDate(window.runStartedAt.getTime()) : null,
    cursor: context.cursor ?? null,
    page: context.page ?? null,
    offset: context.offset ?? null,
    config: context.config,
    parent: context.parent ?? null,
  }) as string;
}

/**
 * Renders every value of a set of parameters or headers. One that uses the incremental window is left out of a
 * request that has none (a full read): it filters what changed, and a full read wants everything.
 */
export function renderAll<T>(values: Record<string, T> | undefined, context: RequestContext): Record<string, T | string> {
  const rendered: Record<string, T | string> = {};
  for (const [name, value] of Object.entries(values ?? {})) {
    if (!context.window && usesWindow(value)) continue;
    rendered[name] = renderTemplate(value, context);
  }
  return rendered;
}

/** Calls `visit` with every string of a JSON value and where it is. */
export function forEachString(value: unknown, path: string[], visit: (text: string, path: string[]) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, index) => forEachString(item, [...path, String(index)], visit));
  else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) forEachString(item, [...path, key], visit);
}

/** A JSON body with its templates rendered; a key whose template uses the incremental window is left out of a full read. */
export function renderBody(value: unknown, context: RequestContext): unknown {
  if (typeof value === 'string') return renderTemplate(value, context);
  if (Array.isArray(value)) return value.map((item) => renderBody(item, context));
  if (value === null || typeof value !== 'object') return value;
  const rendered: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) if (context.window || !usesWindow(item)) rendered[key] = renderBody(item, context);
  return rendered;
}

/** Sets `value` at a dotted path of `target` (`variables.after`), making the objects on the way. */
export function setAt(target: Record<string, unknown>, dotPath: string, value: unknown): void {
  const keys = dotPath.split('.');
  let current = target;
  for (const key of keys.slice(0, -1)) {
    const next = current[key];
    current = current[key] = next !== null && typeof next === 'object' && !Array.isArray(next) ? { ...(next as Record<string, unknown>) } : {};
  }
  current[keys.at(-1)!] = value;
}

/** Conditions see a missing field as null (`record.status` of a record without one), not as a mistake. */
const lenient = new Liquid({ strictFilters: true, ownPropertyOnly: true, timezoneOffset: 0 });

/** The expression of a condition written `{{ expression }}`. */
function expressionOf(text: string): string | undefined {
  return /^\s*\{\{([\s\S]*)\}\}\s*$/.exec(text)?.[1]?.trim() || undefined;
}

/** What is wrong with a condition (`{{ record.status != 'deleted' }}`): its form, its syntax, an unknown name. */
export function conditionProblem(text: string, allowed: readonly string[]): string | undefined {
  const expression = expressionOf(text);
  if (!expression) return `condition ${JSON.stringify(text)} must be one expression in {{ }}, e.g. "{{ record.status != 'deleted' }}"`;
  return templateProblem(`{% if ${expression} %}{% endif %}`, allowed, `condition ${JSON.stringify(text)}`);
}

const conditions = new Map<string, Template[]>();

/** Whether a condition holds for `scope` (Liquid's truth: only false and nil are false). Parsed once, run per record. */
export function conditionHolds(text: string, scope: Record<string, unknown>): boolean {
  let templates = conditions.get(text);
  if (!templates) {
    templates = lenient.parse(`{% if ${expressionOf(text) ?? 'false'} %}1{% endif %}`);
    conditions.set(text, templates);
  }
  return lenient.renderSync(templates, scope) === '1';
}

/** Renders a template over a record (`{{ record.first }}`), a missing field as nothing. */
export function renderRecordTemplate(text: string, scope: Record<string, unknown>): string {
  let templates = conditions.get(`render:${text}`);
  if (!templates) {
    templates = lenient.parse(text);
    conditions.set(`render:${text}`, templates);
  }
  return lenient.renderSync(templates, scope) as string;
}
