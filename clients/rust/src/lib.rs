//! The `ArdiQ` producer client for Rust: enqueue jobs on a queue in Redis
//! and follow them (status, result, abort).
//!
//! The wire format, key names and scripts come from `ardiq-spec`, the same
//! crate the worker uses; this crate owns the connection, the conversion of
//! `serde` values into the spec's type table, and the enqueue, status,
//! result and abort calls.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::time::Duration;
//!
//! use ardiq_client::{Client, JobStatus};
//!
//! let url = std::env::var("REDIS_URL").expect("REDIS_URL must name a test Redis");
//! let client = Client::connect_queue(&url, "doc-lib").await?;
//! let job = client
//!     .enqueue("add")
//!     .args((1, 2))?
//!     .priority(9)
//!     .delay(Duration::from_secs(60))
//!     .send()
//!     .await?;
//! assert_eq!(job.status().await?, JobStatus::Scheduled);
//! job.abort().await?;
//! # Ok::<(), ardiq_client::Error>(())
//! # }).unwrap();
//! ```
//!
//! Delivery is at least once: a worker may run a job again after a crash.
//! The job id is the idempotency key; give your own with
//! [`EnqueueRequest::job_id`] to enqueue a job at most once.

mod client;
pub mod connection;
mod dead;
mod enqueue;
#[doc(hidden)]
pub mod entries;
mod error;
mod failed;
pub mod inspect;
mod job;
pub mod pubsub;
mod purge;
mod schedules;
mod send;
mod trace;
pub mod value;

pub use ardiq_spec::Progress;
pub use client::{Client, ClientBuilder, Enqueue, DEFAULT_QUEUE};
pub use dead::DeadLetter;
pub use enqueue::EnqueueRequest;
#[doc(hidden)]
pub use enqueue::{enqueue_call, EnqueueCall};
pub use error::{Error, Result};
pub use failed::KeptFailure;
pub use inspect::{JobDetails, JobPage, LevelInfo, ListState, ListedJob, QueueInfo, WorkerInfo};
pub use job::{AbortOutcome, EnqueueOutcome, Job, JobInfo, JobStatus, FALLBACK_POLL};
pub use schedules::ScheduleState;

/// The spec crate this client builds on, for its `Value` and records.
pub use ardiq_spec as spec;

/// This crate's version (`Cargo.toml`'s, the one source).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
