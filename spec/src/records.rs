//! The protobuf records of `spec/proto/ardiq/v1/records.proto`, written by
//! hand with `prost` derives so no code generator is needed to build.
//! Field numbers and types must match the `.proto` exactly; the encoding
//! vectors check that they do.
#![allow(clippy::derive_partial_eq_without_eq)]

use crate::RECORD_VERSION;

/// The state of a job in its status record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum State {
    /// Not set.
    Unspecified = 0,
    /// Waiting in a stream.
    Queued = 1,
    /// Waiting for its due time.
    Scheduled = 2,
    /// Being run: derived from `running`; stored only with a progress (1.1).
    Running = 3,
    /// Returned a value.
    Complete = 4,
    /// Raised, with no retry left.
    Failed = 5,
    /// Aborted.
    Aborted = 6,
    /// Dead-lettered.
    Dead = 7,
    /// Not started before its `expires_ms` (1.1).
    Expired = 8,
}

impl State {
    /// The lowercase name used by clients and `status.lua`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Queued => "queued",
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Complete => "complete",
            Self::Failed => "failed",
            Self::Aborted => "aborted",
            Self::Dead => "dead",
            Self::Expired => "expired",
        }
    }

    /// Whether the job has finished for good.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Complete | Self::Failed | Self::Aborted | Self::Dead | Self::Expired
        )
    }
}

/// A job: one call of a registered task.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Job {
    /// `"1.0"`.
    #[prost(string, tag = "1")]
    pub spec_version: String,
    /// The job id.
    #[prost(string, tag = "2")]
    pub id: String,
    /// The task name.
    #[prost(string, tag = "3")]
    pub task: String,
    /// MessagePack array; empty means `[]`.
    #[prost(bytes = "vec", tag = "4")]
    pub args: Vec<u8>,
    /// MessagePack map; empty means `{}`.
    #[prost(bytes = "vec", tag = "5")]
    pub kwargs: Vec<u8>,
    /// 0..9, higher first.
    #[prost(uint32, tag = "6")]
    pub priority: u32,
    /// Producer clock at enqueue, ms.
    #[prost(int64, tag = "7")]
    pub enqueued_ms: i64,
    /// Not before this time, ms; 0 means at once.
    #[prost(int64, tag = "8")]
    pub due_ms: i64,
    /// Failed runs already retried.
    #[prost(uint32, tag = "9")]
    pub attempt: u32,
    /// Overrides the task's retries.
    #[prost(uint32, optional, tag = "10")]
    pub max_retries: Option<u32>,
    /// Overrides the task's timeout, ms.
    #[prost(uint64, optional, tag = "11")]
    pub timeout_ms: Option<u64>,
    /// Overrides the task's base backoff, ms.
    #[prost(uint64, optional, tag = "12")]
    pub backoff_ms: Option<u64>,
    /// Overrides the task's result TTL, ms.
    #[prost(uint64, optional, tag = "13")]
    pub result_ttl_ms: Option<u64>,
    /// Not started by this time (ms), it ends `Expired` unrun (1.1).
    #[prost(int64, optional, tag = "14")]
    pub expires_ms: Option<i64>,
    /// Spec 1.1: string headers carried to the worker, such as the W3C
    /// trace context (`traceparent`, `tracestate`). A `BTreeMap`, so the
    /// entries are written sorted by name, as SPEC.md section 3.1 asks.
    #[prost(btree_map = "string, string", tag = "15")]
    pub headers: std::collections::BTreeMap<String, String>,
}

/// An error that crossed the language boundary.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Error {
    /// Exception type name.
    #[prost(string, tag = "1")]
    pub r#type: String,
    /// Message.
    #[prost(string, tag = "2")]
    pub message: String,
    /// Formatted traceback text.
    #[prost(string, tag = "3")]
    pub traceback: String,
}

/// The value of a job's status key; terminal ones are the result.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    /// `"1.0"`.
    #[prost(string, tag = "1")]
    pub spec_version: String,
    /// The state.
    #[prost(enumeration = "State", tag = "2")]
    pub state: i32,
    /// MessagePack return value.
    #[prost(bytes = "vec", tag = "3")]
    pub value: Vec<u8>,
    /// The error of a failed, aborted or dead job.
    #[prost(message, optional, tag = "4")]
    pub error: Option<Error>,
    /// Runs started, including the last.
    #[prost(uint32, tag = "5")]
    pub attempts: u32,
    /// Producer clock at enqueue, ms.
    #[prost(int64, tag = "6")]
    pub enqueued_ms: i64,
    /// When the last run started, ms.
    #[prost(int64, tag = "7")]
    pub started_ms: i64,
    /// When the job finished, ms.
    #[prost(int64, tag = "8")]
    pub finished_ms: i64,
    /// The worker that finished it.
    #[prost(string, tag = "9")]
    pub worker_id: String,
    /// The task name.
    #[prost(string, tag = "10")]
    pub task: String,
    /// The last progress the run reported (1.1).
    #[prost(message, optional, tag = "11")]
    pub progress: Option<Progress>,
}

/// How far a running job says it is (1.1).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Progress {
    /// 0.0 ..= 1.0.
    #[prost(double, tag = "1")]
    pub fraction: f64,
    /// At most 1,024 bytes.
    #[prost(string, tag = "2")]
    pub message: String,
    /// When the task reported it, ms.
    #[prost(int64, tag = "3")]
    pub updated_ms: i64,
}

/// A dead-letter record.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeadLetter {
    /// `"1.0"`.
    #[prost(string, tag = "1")]
    pub spec_version: String,
    /// The job id, empty when unreadable.
    #[prost(string, tag = "2")]
    pub job_id: String,
    /// The task name, empty when unknown.
    #[prost(string, tag = "3")]
    pub task: String,
    /// Reason code (SPEC.md section 9).
    #[prost(string, tag = "4")]
    pub reason: String,
    /// Human-readable explanation.
    #[prost(string, tag = "5")]
    pub detail: String,
    /// The raw `job` field as found.
    #[prost(bytes = "vec", tag = "6")]
    pub job: Vec<u8>,
    /// The stream entry id it came from.
    #[prost(string, tag = "7")]
    pub stream_id: String,
    /// When it was dead-lettered, ms.
    #[prost(int64, tag = "8")]
    pub dead_ms: i64,
    /// The worker that dead-lettered it.
    #[prost(string, tag = "9")]
    pub worker_id: String,
    /// The last error, when a run failed.
    #[prost(message, optional, tag = "10")]
    pub error: Option<Error>,
}

/// Spec 1.1: a kept failure, the `record` field of an entry of the
/// kept-failures stream `ardiq:{q}:failed` (SPEC.md section 9.1).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Failure {
    /// The spec version.
    #[prost(string, tag = "1")]
    pub spec_version: String,
    /// The job id.
    #[prost(string, tag = "2")]
    pub job_id: String,
    /// The task name.
    #[prost(string, tag = "3")]
    pub task: String,
    /// The `Job` record of the last run (its arguments, attempt and headers).
    #[prost(bytes = "vec", tag = "4")]
    pub job: Vec<u8>,
    /// The error of the last run.
    #[prost(message, optional, tag = "5")]
    pub error: Option<Error>,
    /// Runs started, including the last.
    #[prost(uint32, tag = "6")]
    pub attempts: u32,
    /// When the last run started, ms.
    #[prost(int64, tag = "7")]
    pub started_ms: i64,
    /// When it failed for good, ms.
    #[prost(int64, tag = "8")]
    pub failed_ms: i64,
    /// The worker that ran it last.
    #[prost(string, tag = "9")]
    pub worker_id: String,
}

/// A worker's heartbeat.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Heartbeat {
    /// `"1.0"`.
    #[prost(string, tag = "1")]
    pub spec_version: String,
    /// The worker id.
    #[prost(string, tag = "2")]
    pub worker_id: String,
    /// Host name.
    #[prost(string, tag = "3")]
    pub hostname: String,
    /// Process id.
    #[prost(uint32, tag = "4")]
    pub pid: u32,
    /// When the worker started, ms.
    #[prost(int64, tag = "5")]
    pub started_ms: i64,
    /// When this heartbeat was written, ms.
    #[prost(int64, tag = "6")]
    pub seen_ms: i64,
    /// Most jobs run at once.
    #[prost(uint32, tag = "7")]
    pub concurrency: u32,
    /// Jobs running now.
    #[prost(uint32, tag = "8")]
    pub running: u32,
    /// Jobs completed so far.
    #[prost(uint64, tag = "9")]
    pub completed: u64,
    /// Jobs failed so far.
    #[prost(uint64, tag = "10")]
    pub failed: u64,
    /// Queues served.
    #[prost(string, repeated, tag = "11")]
    pub queues: Vec<String>,
}

impl Status {
    /// A status with only the version and a state.
    pub fn with_state(state: State) -> Self {
        Self {
            spec_version: RECORD_VERSION.to_owned(),
            state: state as i32,
            ..Self::default()
        }
    }

    /// The status `abort.lua` stores for a job aborted before it ran.
    pub fn aborted_before_run(now_ms: i64) -> Self {
        Self {
            error: Some(Error {
                r#type: "JobAborted".to_owned(),
                message: "aborted before it ran".to_owned(),
                traceback: String::new(),
            }),
            finished_ms: now_ms,
            ..Self::with_state(State::Aborted)
        }
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn queued_constant_matches_the_scripts() {
        assert_eq!(
            Status::with_state(State::Queued).encode_to_vec(),
            b"\x0a\x031.0\x10\x01".to_vec()
        );
        assert_eq!(
            Status::with_state(State::Scheduled).encode_to_vec(),
            b"\x0a\x031.0\x10\x02".to_vec()
        );
    }
}
