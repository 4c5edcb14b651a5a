import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { importOptional } from './optional-package.ts';
import type { ExportResult } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import { PACKAGE_ROOT } from './package-root.ts';
import { settlesWithin } from './deadline.ts';

/**
 * OpenTelemetry tracing of this process, on when `OTEL_EXPORTER_OTLP_ENDPOINT`
 * (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: spans are exported over
 * OTLP/HTTP (JSON), with the exporter's usual variables (`OTEL_EXPORTER_OTLP_HEADERS`,
 * `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`).
 */
export interface Tracing {
  readonly resource: Resource;
  readonly spanProcessor: SpanProcessor;
  /** Sends the spans not yet exported and stops exporting. */
  shutdown(): Promise<void>;
}

let active: Tracing | undefined;
/** How long a stopping command waits for its last spans to be sent. */
const SHUTDOWN_EXPORT_MS = 5000;
const EXPORT_WARNING_EVERY_MS = 60_000;

/** What exporting traces needs beside bizon: optional packages, as a destination's drivers are. */
const TRACING_PACKAGES = [
  '@opentelemetry/sdk-trace-node',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/resources',
  '@opentelemetry/core',
  '@temporalio/interceptors-opentelemetry',
];

function tracingPackage<T>(name: string): Promise<T> {
  return importOptional<T>(name, 'Exporting traces (OTEL_EXPORTER_OTLP_ENDPOINT)', TRACING_PACKAGES.filter((other) => other !== name));
}

/** Whether the environment asks for traces. */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Starts exporting traces when the environment asks for them (once per
 * process); the SDK is loaded only then. Returns the tracing in effect.
 */
export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<Tracing | undefined> {
  if (active || !tracingRequested(env)) return active;
  const [{ NodeTracerProvider }, { BatchSpanProcessor }, { Resource, detectResourcesSync, envDetectorSync }, { OTLPTraceExporter }, { setGlobalErrorHandler }] = await Promise.all([
    tracingPackage<typeof import('@opentelemetry/sdk-trace-node')>('@opentelemetry/sdk-trace-node'),
    tracingPackage<typeof import('@opentelemetry/sdk-trace-base')>('@opentelemetry/sdk-trace-base'),
    tracingPackage<typeof import('@opentelemetry/resources')>('@opentelemetry/resources'),
    tracingPackage<typeof import('@opentelemetry/exporter-trace-otlp-http')>('@opentelemetry/exporter-trace-otlp-http'),
    tracingPackage<typeof import('@opentelemetry/core')>('@opentelemetry/core'),
    // Checked now: the worker's interceptors need it, and a missing one should stop the command, not its first sync.
    tracingPackage('@temporalio/interceptors-opentelemetry'),
  ]);
  const version = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override these defaults.
  const resource = Resource.default()
    .merge(new Resource({ 'service.name': 'bizon-temporal', 'service.version': version }))
    .merge(detectResourcesSync({ detectors: [envDetectorSync] }));
  const spanProcessor = new BatchSpanProcessor(new MessageFreeExporter(new OTLPTraceExporter()));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // Registered globally: the Temporal interceptors and the HTTP session find the tracer there.
  provider.register();
  const endpoint = originOf(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || '');
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL;
  if (protocol && protocol !== 'http/json') {
    process.stderr.write(`Warning: traces are sent as OTLP/HTTP JSON (http/json), not ${protocol}: point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's HTTP port (4318 by default).\n`);
  }
  // A collector that is down must not fail or hold up a sync: say so now and then, and go on.
  let warnedAt = 0;
  const warn = (error: unknown) => {
    if (Date.now() - warnedAt < EXPORT_WARNING_EVERY_MS) return;
    warnedAt = Date.now();
    process.stderr.write(`Warning: traces could not be sent to ${endpoint}: ${error instanceof Error ? error.message : String(error)}\n`);
  };
  setGlobalErrorHandler(warn);
  active = {
    resource,
    spanProcessor,
    async shutdown() {
      if (!(await settlesWithin(provider.shutdown().catch(warn), SHUTDOWN_EXPORT_MS))) {
        warn(new Error(`no answer within ${SHUTDOWN_EXPORT_MS / 1000} s; the last spans are dropped`));
      }
    },
  };
  return active;
}

/**
 * What Temporal's interceptors record of a failure — the exception event's message and stack, the status message —
 * holds what an error message holds: a request's URL with its query string, a response body. Only the error's type
 * leaves the process; the message stays in the workflow history, where the Web UI (and the codec) show it.
 */
class MessageFreeExporter implements SpanExporter {
  constructor(private readonly inner: SpanExporter) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(spans.map(withoutMessages), resultCallback);
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** A status message that is a code or a class name (`503`, `HttpError`), not a sentence. */
const TYPE_LIKE = /^[\w.:-]{1,80}$/;

function withoutMessages(span: ReadableSpan): ReadableSpan {
  const events = span.events.map((event) =>
    event.name === 'exception' ? { ...event, attributes: { 'exception.type': event.attributes?.['exception.type'] ?? 'Error' } } : event,
  );
  const status = span.status.message && !TYPE_LIKE.test(span.status.message) ? { code: span.status.code } : span.status;
  // The span's other fields and methods (spanContext()) stay those of the span itself.
  return Object.assign(Object.create(span) as ReadableSpan, { events, status });
}

/** Where traces go, without a path or credentials, for messages. */
function originOf(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return endpoint;
  }
}

/** The tracing of this process, if started. */
export function activeTracing(): Tracing | undefined {
  return active;
}

/** The workflow interceptor module that traces workflows (bundled into the workflow code). */
export function workflowTracingModule(): string {
  return createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');
}

/** What a worker adds when tracing is on: activity interceptors and the sink the workflow spans leave by. */
export async function workerTracing(tracing: Tracing): Promise<{ interceptors: WorkerInterceptors; sinks: InjectedSinks<OpenTelemetrySinks> }> {
  const { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, makeWorkflowExporter } = await tracingPackage<typeof import('@temporalio/interceptors-opentelemetry')>('@temporalio/interceptors-opentelemetry');
  return {
    interceptors: {
      activity: [(context) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(context), outbound: new OpenTelemetryActivityOutboundInterceptor(context) })],
      // The client activities use (to signal a stream's state workflow) carries the trace on.
      client: { workflow: await clientTracingInterceptors() },
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}

/**
 * Client interceptors that trace what a client changes (starts, signals,
 * updates, cancels): a sync started by `bizon run` is one trace from the
 * start to its last page. Reads (queries, describes) are traced only inside a
 * span: a command polling progress would otherwise make a trace per poll.
 * None when tracing is off.
 */
export async function clientTracingInterceptors(): Promise<WorkflowClientInterceptor[]> {
  if (!active) return [];
  const [{ OpenTelemetryWorkflowClientInterceptor }, { context, trace }] = await Promise.all([tracingPackage<typeof import('@temporalio/interceptors-opentelemetry')>('@temporalio/interceptors-opentelemetry'), import('@opentelemetry/api')]);
  const traced = new OpenTelemetryWorkflowClientInterceptor();
  const inSpan = () => trace.getSpan(context.active()) !== undefined;
  return [
    {
      start: (input, next) => traced.start(input, next),
      startWithDetails: (input, next) => traced.startWithDetails(input, next),
      signal: (input, next) => traced.signal(input, next),
      signalWithStart: (input, next) => traced.signalWithStart(input, next),
      startUpdate: (input, next) => traced.startUpdate(input, next),
      startUpdateWithStart: (input, next) => traced.startUpdateWithStart(input, next),
      terminate: (input, next) => traced.terminate(input, next),
      cancel: (input, next) => traced.cancel(input, next),
      query: (input, next) => (inSpan() ? traced.query(input, next) : next(input)),
      describe: (input, next) => (inSpan() ? traced.describe(input, next) : next(input)),
    },
  ];
}
