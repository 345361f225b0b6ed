//! The ArdiQ wire spec, version 1.0, as Rust types: the protobuf records,
//! the Redis key names of a queue, the embedded Lua scripts, the MessagePack
//! value codec with the spec's type table, and the producer-side limits.
//!
//! The worker and the Rust client both build on this crate, so the key
//! layout and the encodings are written once. `spec/SPEC.md` is the contract;
//! the vectors in `conformance/vectors/v1/` pin the bytes.

pub mod enqueue;
pub mod keys;
pub mod limits;
pub mod records;
pub mod scripts;
pub mod value;

pub use keys::QueueKeys;
pub use records::{DeadLetter, Error, Failure, Heartbeat, Job, Progress, State, Status};
pub use value::{Value, ValueError};

/// The version of the spec this crate implements (`spec/VERSION`).
pub const SPEC_VERSION: &str = "1.1";

/// A record's `spec_version` when it sets no field added after 1.0: such a
/// record is byte for byte what a 1.0 writer writes (SPEC.md section 12).
pub const RECORD_VERSION: &str = "1.0";

/// A record's `spec_version` when it sets a field added in 1.1.
pub const RECORD_VERSION_1_1: &str = "1.1";

/// The consumer group of every stream.
pub const GROUP: &str = "ardiq";

/// Number of priority levels; priorities are `0..PRIORITY_LEVELS`.
pub const PRIORITY_LEVELS: u32 = 10;

/// Priority a producer writes when the caller gives none.
pub const DEFAULT_PRIORITY: u32 = 5;

/// Result TTL when neither the job nor its task sets one: one day, in ms
/// (SPEC.md section 6).
pub const DEFAULT_RESULT_TTL_MS: u64 = 86_400_000;

/// A new job id: a UUID version 7 in canonical lowercase text.
pub fn new_job_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Whether a `spec_version` string has the major version this crate reads.
pub fn is_supported_version(version: &str) -> bool {
    version.split('.').next() == Some("1")
}
