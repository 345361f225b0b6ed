/**
 * Trace context for the worker (spec 1.1, SPEC.md section 3.1). When
 * `@opentelemetry/api` is installed (an optional peer dependency), every job
 * enqueued carries the active context in its headers, written by the
 * globally registered propagator (W3C `traceparent` and `tracestate` with
 * the SDK's `W3CTraceContextPropagator`); a header the caller set wins.
 * Without it, nothing is loaded and `traceHeaders` returns `undefined`.
 */
type Api = typeof import('@opentelemetry/api');

let api: Api | null;
try {
  api = await import('@opentelemetry/api');
} catch {
  api = null;
}

/** The active trace context as headers, or `undefined` when there is none. */
export function traceHeaders(): Record<string, string> | undefined {
  if (api === null) return undefined;
  const carrier: Record<string, string> = {};
  api.propagation.inject(api.context.active(), carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}
