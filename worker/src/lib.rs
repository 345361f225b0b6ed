//! `ardiq._core`: the native half of ArdiQ. The worker loop and every Redis
//! command run here, on a tokio runtime whose threads never hold the GIL;
//! Python is reached only through the bridge (`bridge.rs`) to start tasks and
//! read their results. `python/` is the PyO3 layer, `engine/` a worker run;
//! producer calls go through the Rust client, `ardiq_client`.

pub mod bridge;
pub mod conn;
pub mod engine;
pub mod error;
mod python;
