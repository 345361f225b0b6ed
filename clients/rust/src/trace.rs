//! Trace context for the worker (spec 1.1, SPEC.md section 3.1): with the
//! `opentelemetry` feature, every job sent carries the current
//! OpenTelemetry context in its headers, written by the globally installed
//! propagator (`opentelemetry::global::set_text_map_propagator`, for example
//! the SDK's `TraceContextPropagator` for W3C `traceparent`/`tracestate`).
//! A header the caller set is kept. Without the feature this is nothing.

use std::collections::BTreeMap;

#[cfg(feature = "opentelemetry")]
pub(crate) fn inject(headers: &mut BTreeMap<String, String>) {
    use opentelemetry::propagation::Injector;

    struct Carrier<'a>(&'a mut BTreeMap<String, String>);

    impl Injector for Carrier<'_> {
        fn set(&mut self, key: &str, value: String) {
            if !value.is_empty() {
                self.0.entry(key.to_owned()).or_insert(value);
            }
        }
    }

    let context = opentelemetry::Context::current();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut Carrier(headers));
    });
}

#[cfg(not(feature = "opentelemetry"))]
#[inline]
pub(crate) fn inject(_headers: &mut BTreeMap<String, String>) {}
