//! Errors of the core (`python::errors` maps each to its Python exception).

use ardiq_spec::limits::InvalidJob;
use ardiq_spec::ValueError;
use thiserror::Error;

use crate::conn;

/// An error of the core.
#[derive(Debug, Error, Clone)]
pub enum CoreError {
    /// Bad input to an enqueue.
    #[error(transparent)]
    Invalid(#[from] InvalidJob),
    /// A value outside the type table.
    #[error("{0}")]
    Value(String),
    /// An argument outside its bounds (an inspection page size, a cursor).
    #[error("{0}")]
    Argument(String),
    /// Redis is unreachable.
    #[error("Redis is unreachable: {0}")]
    Unreachable(String),
    /// Redis refused the credentials.
    #[error("Redis refused the credentials: {0}")]
    Auth(String),
    /// Any other Redis error.
    #[error("Redis error: {0}")]
    Redis(String),
    /// A record that does not decode.
    #[error("malformed record: {0}")]
    Malformed(String),
    /// A request that panicked (a bug, here or in a library).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ardiq_client::Error> for CoreError {
    fn from(err: ardiq_client::Error) -> Self {
        use ardiq_client::Error as E;
        match err {
            E::Connection(inner) => Self::Unreachable(inner.to_string()),
            E::Authentication(inner) => Self::Auth(inner.to_string()),
            E::Redis(inner) => Self::Redis(inner.to_string()),
            E::MalformedRecord(detail) => Self::Malformed(detail),
            E::UnsupportedValue { .. } => Self::Value(err.to_string()),
            E::InvalidOption(message) => Self::Argument(message),
            // A name the client refused is the caller's error, typed as an
            // enqueue's would be, never a Redis one.
            E::InvalidQueueName(name) => Self::Invalid(InvalidJob::QueueName(name)),
            E::InvalidJobId(id) => Self::Invalid(InvalidJob::JobId(id)),
            E::InvalidTaskName(name) => Self::Invalid(InvalidJob::TaskName(name)),
            E::PayloadTooLarge { size, .. } => Self::Invalid(InvalidJob::PayloadTooLarge(size)),
            other => Self::Redis(other.to_string()),
        }
    }
}

impl From<redis::RedisError> for CoreError {
    fn from(err: redis::RedisError) -> Self {
        if conn::is_auth_failure(&err) {
            Self::Auth(err.to_string())
        } else if conn::is_unreachable(&err) {
            Self::Unreachable(err.to_string())
        } else {
            Self::Redis(err.to_string())
        }
    }
}

impl From<ValueError> for CoreError {
    fn from(err: ValueError) -> Self {
        match err {
            ValueError::Malformed(_) => Self::Malformed(err.to_string()),
            ValueError::Unsupported { .. } => Self::Value(err.to_string()),
        }
    }
}
