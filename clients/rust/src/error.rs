//! The client's error type: every way an enqueue, a status read or a result
//! wait can fail, named as the spec names them (SPEC.md sections 4 and 5).

use ardiq_spec::limits::InvalidJob;
use ardiq_spec::ValueError;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong between a caller and a queue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A user value outside the spec's type table (SPEC.md section 4).
    #[error("unsupported value at {path}: {what}")]
    UnsupportedValue {
        /// Where the value sits, like `args[1].when`.
        path: String,
        /// What is wrong with it.
        what: String,
    },
    /// The task name is empty or longer than 256 bytes.
    #[error("invalid task name {0:?}: it must be 1 to 256 bytes")]
    InvalidTaskName(String),
    /// The job id is empty, longer than 256 bytes or holds white space.
    #[error("invalid job id {0:?}: it must be 1 to 256 bytes without white space")]
    InvalidJobId(String),
    /// The queue name is empty, longer than 128 bytes, or holds `{`, `}` or white space.
    #[error("invalid queue name {0:?}: it must be 1 to 128 bytes without braces or white space")]
    InvalidQueueName(String),
    /// The priority is outside 0..=9; the message says what was given.
    #[error("{0}")]
    InvalidPriority(String),
    /// A delay or scheduled time outside its bounds (SPEC.md section 5).
    #[error("{0}")]
    InvalidDelay(String),
    /// `max_retries`, a timeout, a backoff or a result TTL outside its
    /// bounds (SPEC.md section 5).
    #[error("{0}")]
    InvalidOption(String),
    /// The encoded job is larger than 1,048,576 bytes; nothing was written.
    #[error("job of {size} bytes is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// Size of the encoded `Job` record.
        size: usize,
        /// The spec's limit.
        limit: usize,
    },
    /// The URL could not be parsed or names an unsupported scheme.
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(#[source] redis::RedisError),
    /// Redis cannot be reached, the connection dropped, or Redis is still
    /// loading its data (`LOADING`).
    #[error("cannot reach Redis: {0}")]
    Connection(#[source] redis::RedisError),
    /// Redis refused the user name or password.
    #[error("Redis refused the credentials: {0}")]
    Authentication(#[source] redis::RedisError),
    /// Any other error Redis reported.
    #[error("Redis error: {0}")]
    Redis(#[source] redis::RedisError),
    /// A record or script reply that does not follow the spec.
    #[error("malformed record: {0}")]
    MalformedRecord(String),
    /// The job ran and raised (or was dead-lettered, with remote type `DeadLetter`).
    #[error("job failed with {remote_type}: {message}")]
    JobFailed {
        /// The exception's type name, e.g. `ValueError`.
        remote_type: String,
        /// The exception's message.
        message: String,
        /// The formatted traceback, possibly empty.
        traceback: String,
    },
    /// The job was aborted.
    #[error("job was aborted")]
    JobAborted,
    /// No worker started the job before its expiry (`expires_ms`).
    #[error("job expired before it started")]
    JobExpired,
    /// The job has no status key: its result expired or was not kept
    /// (`result_ttl_ms` 0), or no job has this id.
    #[error("job not found: its result expired or was not kept, or no job has this id")]
    JobNotFound,
    /// The job did not finish within the time given.
    #[error("job did not finish in time")]
    Timeout,
    /// The job's return value does not fit the type asked for.
    #[error("the job's return value does not fit the requested type: {0}")]
    UnexpectedResult(String),
}

impl Error {
    /// Sorts a redis-rs error into unreachable, refused credentials or other.
    pub(crate) fn from_redis(err: redis::RedisError) -> Self {
        if crate::connection::is_auth_failure(&err) {
            Self::Authentication(err)
        } else if err.kind() == redis::ErrorKind::InvalidClientConfig {
            Self::InvalidUrl(err)
        } else if crate::connection::is_unreachable(&err) {
            Self::Connection(err)
        } else {
            Self::Redis(err)
        }
    }
}

impl From<InvalidJob> for Error {
    fn from(err: InvalidJob) -> Self {
        let message = err.to_string();
        match err {
            InvalidJob::QueueName(name) => Self::InvalidQueueName(name),
            InvalidJob::TaskName(name) => Self::InvalidTaskName(name),
            InvalidJob::JobId(id) => Self::InvalidJobId(id),
            InvalidJob::Priority(_) => Self::InvalidPriority(message),
            InvalidJob::Delay { .. } => Self::InvalidDelay(message),
            InvalidJob::Option { .. } | InvalidJob::Headers(_) | InvalidJob::Expiry { .. } => {
                Self::InvalidOption(message)
            }
            InvalidJob::PayloadTooLarge(size) => Self::PayloadTooLarge {
                size,
                limit: ardiq_spec::limits::MAX_RECORD_BYTES,
            },
        }
    }
}

impl From<ValueError> for Error {
    fn from(err: ValueError) -> Self {
        match err {
            ValueError::Unsupported { path, what } => Self::UnsupportedValue { path, what },
            ValueError::Malformed(detail) => Self::MalformedRecord(detail),
        }
    }
}
