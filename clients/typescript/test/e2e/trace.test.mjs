// Trace context across languages: a job enqueued inside a TypeScript span
// carries that span's W3C trace context, and the Python worker runs it in a
// CONSUMER span of the same trace, whose parent is the producer's span.
// Both sides record their spans in an in-memory exporter (this process's,
// and the worker's, which `finished_spans` hands back).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

import { createClient } from '../../dist/index.js';
import { freshQueue, redisUrl } from '../support.mjs';
import { RESULT_TIMEOUT_MS, startWorker } from './worker.mjs';

const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

test('the Python task span continues the TypeScript producer span', async (t) => {
  const queue = freshQueue('ts-trace');
  const client = await createClient({ url: redisUrl(), queue });
  t.after(() => client.close());
  const worker = startWorker(queue, { burst: false, env: { ARDIQ_TRACED_WORKER: '1' } });
  t.after(() => {
    if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
  });

  const job = await trace
    .getTracer('producer')
    .startActiveSpan('enqueue', { kind: SpanKind.PRODUCER }, async (span) => {
      try {
        return await client.enqueue('traced_echo', ['hello']);
      } finally {
        span.end();
      }
    });
  assert.equal(await job.result({ timeoutMs: RESULT_TIMEOUT_MS }), 'hello');
  const finished = await client.enqueue('finished_spans');
  /** @type {any[]} */
  const spans = /** @type {any} */ (await finished.result({ timeoutMs: RESULT_TIMEOUT_MS }));
  worker.child.kill('SIGTERM');
  assert.equal(await worker.exit(), 0, worker.output());

  const [producer] = exporter.getFinishedSpans();
  assert.equal(producer.name, 'enqueue');
  const run = spans.find((span) => span.attributes['messaging.message.id'] === job.id);
  assert.ok(run, `no span of job ${job.id} among ${JSON.stringify(spans)}`);
  assert.equal(run.kind, 'CONSUMER');
  assert.equal(run.name, `process ${queue}`);
  assert.equal(run.trace_id, producer.spanContext().traceId);
  assert.equal(run.parent_span_id, producer.spanContext().spanId);
  assert.equal(run.attributes['messaging.system'], 'ardiq');
  assert.equal(run.attributes['ardiq.task'], 'traced_echo');
  const inside = spans.find((span) => span.name === 'inside the task');
  assert.equal(inside.trace_id, run.trace_id);
  assert.equal(inside.parent_span_id, run.span_id);
});
