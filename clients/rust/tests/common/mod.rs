//! Shared set-up of the integration tests: the Redis at `REDIS_URL` (set by
//! `python -m ardiq_testing.redis -- cargo test ...`), fresh queue names, and
//! a plain redis-rs connection for inspecting what the client wrote.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use ardiq_client::spec::QueueKeys;
use ardiq_client::Client;

/// The test Redis. Panics with a clear message when `REDIS_URL` is unset, so
/// a run without Redis fails instead of passing silently.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "REDIS_URL is not set: run the tests through the Redis fixture, e.g. \
             `.venv/bin/python -m ardiq_testing.redis -- cargo test -p ardiq-client`"
        )
    })
}

/// A queue name no other test (or earlier run) uses.
pub fn fresh_queue(label: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(
        "{label}-{}-{n}-{}",
        std::process::id(),
        ardiq_spec_id_suffix()
    )
}

fn ardiq_spec_id_suffix() -> String {
    // The tail of a UUID v7 is random: enough to keep runs apart.
    let id = ardiq_client::spec::new_job_id();
    id[id.len() - 8..].to_owned()
}

/// A client on a fresh queue, with that queue's key names.
pub async fn client(label: &str) -> (Client, QueueKeys) {
    let queue = fresh_queue(label);
    let client = Client::connect_queue(&redis_url(), &queue)
        .await
        .expect("connect to REDIS_URL");
    (client, QueueKeys::new(&queue))
}

/// A plain connection for looking at keys.
pub async fn inspector() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .expect("REDIS_URL parses")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to REDIS_URL")
}
