//! `ardiq._core`: the native half of ArdiQ. The worker loop and every Redis
//! command run here, on a tokio runtime whose threads never hold the GIL;
//! Python is reached only through the bridge (`bridge.rs`) to start tasks and
//! read their results. `python/` is the PyO3 layer, `engine/` a worker run;
//! producer calls go through the Rust client, `ardiq_client`.

/// Every Rust allocation of the module (not Python's own objects) goes
/// through mimalloc: the engine's per-batch buffers and entries are many
/// short-lived allocations of mixed sizes, which glibc's malloc served
/// slowly (its consolidation of freed chunks showed in every profile).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod bridge;
pub mod conn;
pub mod engine;
pub mod error;
mod python;
