//! The Python exceptions of `ardiq._core`, and the one each core error
//! becomes.

use ardiq_spec::limits::InvalidJob;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

use crate::error::CoreError;

pyo3::create_exception!(_core, ArdiqError, PyException, "Base of every ArdiQ error.");
pyo3::create_exception!(
    _core,
    UnsupportedValue,
    ArdiqError,
    "A value outside the spec's type table."
);
pyo3::create_exception!(
    _core,
    InvalidTaskName,
    ArdiqError,
    "A task name that is empty or too long."
);
pyo3::create_exception!(
    _core,
    InvalidJobId,
    ArdiqError,
    "A job id that is empty, too long or has white space."
);
pyo3::create_exception!(
    _core,
    InvalidPriority,
    ArdiqError,
    "A priority outside 0..9."
);
pyo3::create_exception!(
    _core,
    InvalidDelay,
    ArdiqError,
    "A delay_ms or schedule_ms outside its bounds, or both given."
);
pyo3::create_exception!(
    _core,
    InvalidQueueName,
    ArdiqError,
    "A queue name that is empty, too long, or has braces or white space."
);
pyo3::create_exception!(
    _core,
    InvalidOption,
    ArdiqError,
    "An option (max_retries, timeout_ms, backoff_ms, result_ttl_ms) outside its bounds."
);
pyo3::create_exception!(
    _core,
    PayloadTooLarge,
    ArdiqError,
    "A job larger than the spec's limit."
);
pyo3::create_exception!(
    _core,
    InvalidSchedule,
    ArdiqError,
    "A cron schedule that cannot run: a bad expression, time zone, interval, name or job."
);
pyo3::create_exception!(
    _core,
    RedisUnavailable,
    ArdiqError,
    "Redis could not be reached, or is still loading its data."
);
pyo3::create_exception!(
    _core,
    AuthenticationFailed,
    ArdiqError,
    "Redis refused the credentials."
);
pyo3::create_exception!(
    _core,
    RedisCommandError,
    ArdiqError,
    "Redis answered a command with an error."
);
pyo3::create_exception!(
    _core,
    MalformedRecord,
    ArdiqError,
    "A record in Redis that does not follow the spec."
);

impl From<CoreError> for PyErr {
    fn from(err: CoreError) -> Self {
        let message = err.to_string();
        match err {
            CoreError::Invalid(InvalidJob::QueueName(_)) => InvalidQueueName::new_err(message),
            CoreError::Invalid(InvalidJob::TaskName(_)) => InvalidTaskName::new_err(message),
            CoreError::Invalid(InvalidJob::JobId(_)) => InvalidJobId::new_err(message),
            CoreError::Invalid(InvalidJob::Priority(_)) => InvalidPriority::new_err(message),
            CoreError::Invalid(InvalidJob::Delay { .. }) => InvalidDelay::new_err(message),
            CoreError::Invalid(
                InvalidJob::Option { .. } | InvalidJob::Headers(_) | InvalidJob::Expiry { .. },
            )
            | CoreError::Argument(_) => InvalidOption::new_err(message),
            CoreError::Invalid(InvalidJob::PayloadTooLarge(_)) => PayloadTooLarge::new_err(message),
            CoreError::Value(_) => UnsupportedValue::new_err(message),
            CoreError::Unreachable(_) => RedisUnavailable::new_err(message),
            CoreError::Auth(_) => AuthenticationFailed::new_err(message),
            CoreError::Redis(_) => RedisCommandError::new_err(message),
            CoreError::Malformed(_) => MalformedRecord::new_err(message),
            CoreError::Internal(_) => ArdiqError::new_err(message),
        }
    }
}

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ArdiqError", py.get_type::<ArdiqError>())?;
    m.add("UnsupportedValue", py.get_type::<UnsupportedValue>())?;
    m.add("InvalidTaskName", py.get_type::<InvalidTaskName>())?;
    m.add("InvalidJobId", py.get_type::<InvalidJobId>())?;
    m.add("InvalidPriority", py.get_type::<InvalidPriority>())?;
    m.add("InvalidDelay", py.get_type::<InvalidDelay>())?;
    m.add("InvalidQueueName", py.get_type::<InvalidQueueName>())?;
    m.add("InvalidOption", py.get_type::<InvalidOption>())?;
    m.add("PayloadTooLarge", py.get_type::<PayloadTooLarge>())?;
    m.add("InvalidSchedule", py.get_type::<InvalidSchedule>())?;
    m.add("RedisUnavailable", py.get_type::<RedisUnavailable>())?;
    m.add(
        "AuthenticationFailed",
        py.get_type::<AuthenticationFailed>(),
    )?;
    m.add("RedisCommandError", py.get_type::<RedisCommandError>())?;
    m.add("MalformedRecord", py.get_type::<MalformedRecord>())?;
    Ok(())
}
