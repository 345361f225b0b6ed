//! The process-wide tokio runtime the core runs on, started with the GIL
//! released, and the short linger after each reply that spares back-to-back
//! awaited calls two thread wake-ups.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use tokio::runtime::Runtime;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static LINGER: OnceLock<Duration> = OnceLock::new();
/// Bumped by every reply; only the newest reply's task lingers.
static LINGER_TURN: AtomicU64 = AtomicU64::new(0);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// After answering a request the runtime thread keeps polling for a while
/// (`ARDIQ_LINGER_US`, default 200 µs; 0 turns it off) instead of going to
/// sleep at once. An awaited request that follows within that window then
/// wakes no sleeping thread on its way to Redis and back: on virtual
/// machines each such wake-up costs tens of µs, so back-to-back awaited
/// calls (`await task.enqueue(...)` in a loop, `Job.result` polling) run
/// about twice as fast. The price is at most that window of one core's time
/// per burst of requests; an idle process never polls.
pub async fn linger() {
    let window = *LINGER.get_or_init(|| Duration::from_micros(env_number("ARDIQ_LINGER_US", 200)));
    if window.is_zero() {
        return;
    }
    let turn = LINGER_TURN.fetch_add(1, Ordering::AcqRel) + 1;
    let until = Instant::now() + window;
    // Each yield lets the scheduler poll its I/O driver and the queue of
    // tasks spawned from Python, without parking the thread.
    while Instant::now() < until && LINGER_TURN.load(Ordering::Acquire) == turn {
        tokio::task::yield_now().await;
    }
}

/// The process-wide tokio runtime, on its own threads (`ARDIQ_RUNTIME_THREADS`,
/// default 1).
pub fn runtime(py: Python<'_>) -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        let threads = usize::try_from(env_number("ARDIQ_RUNTIME_THREADS", 1)).unwrap_or(1);
        // Built with the GIL released: its threads never need it.
        py.detach(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("ardiq-core")
                .enable_all()
                .build()
                .expect("tokio runtime")
        })
    })
}
