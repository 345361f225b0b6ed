//! Trace context (spec 1.1, SPEC.md section 3.1) with the `opentelemetry`
//! feature: a job sent inside a span carries that span's W3C `traceparent`
//! in its headers; a header the caller set wins; outside any span nothing
//! is added. (`tests/e2e.rs` checks that the Python worker continues it.)

mod common;

use std::time::Duration;

use ardiq_client::spec::Job;
use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{global, Context};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use prost::Message as _;

async fn scheduled_headers(
    keys: &ardiq_client::spec::QueueKeys,
    id: &str,
) -> std::collections::BTreeMap<String, String> {
    let raw: Vec<u8> = redis::cmd("HGET")
        .arg(keys.delayed_jobs())
        .arg(id)
        .query_async(&mut common::inspector().await)
        .await
        .unwrap();
    Job::decode(raw.as_slice()).unwrap().headers
}

#[tokio::test]
async fn a_job_sent_in_a_span_carries_its_traceparent() {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let (client, keys) = common::client("trace").await;

    let span = provider.tracer("producer").start("enqueue");
    let context = Context::current_with_span(span);
    let (inside, given) = {
        let _attached = context.clone().attach();
        let inside = client
            .enqueue("t")
            .delay(Duration::from_secs(60))
            .send()
            .await
            .unwrap();
        let given = client
            .enqueue("t")
            .header("traceparent", "00-mine-01")
            .header("tenant", "acme")
            .delay(Duration::from_secs(60))
            .send()
            .await
            .unwrap();
        (inside, given)
    };
    let outside = client
        .enqueue("t")
        .delay(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    context.span().end();

    let span_context = context.span().span_context().clone();
    let expected = format!(
        "00-{}-{}-01",
        span_context.trace_id(),
        span_context.span_id()
    );
    assert_eq!(
        scheduled_headers(&keys, inside.id()).await,
        [("traceparent".to_owned(), expected)].into()
    );
    let given = scheduled_headers(&keys, given.id()).await;
    assert_eq!(given["traceparent"], "00-mine-01");
    assert_eq!(given["tenant"], "acme");
    assert!(scheduled_headers(&keys, outside.id()).await.is_empty());
    assert_eq!(exporter.get_finished_spans().unwrap().len(), 1);
}
