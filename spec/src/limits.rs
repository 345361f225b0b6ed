//! Limits and input checks (SPEC.md sections 1 and 5), shared by every
//! Rust producer and by the worker, which applies the same bounds to records
//! written by producers it does not know.

use thiserror::Error;

use crate::PRIORITY_LEVELS;

/// Largest `Job` record, and largest return value, in bytes.
pub const MAX_RECORD_BYTES: usize = 1_048_576;
/// Longest task name and job id, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest queue name, in bytes.
pub const MAX_QUEUE_NAME_BYTES: usize = 128;
/// Most jobs in one `enqueue.lua` call.
pub const MAX_BATCH: usize = 1_000;
/// Deepest nesting of a user value.
pub const MAX_DEPTH: usize = 64;
/// Longest duration of any option (`delay_ms`, `timeout_ms`, `backoff_ms`,
/// `result_ttl_ms`): 100 years of 365.25 days, in ms.
pub const MAX_DURATION_MS: i64 = 3_155_760_000_000;
/// Latest `schedule_ms`: 9999-12-31T23:59:59.999Z.
pub const MAX_SCHEDULE_MS: i64 = 253_402_300_799_999;
/// Longest progress message, in bytes (SPEC.md section 16).
pub const MAX_PROGRESS_MESSAGE_BYTES: usize = 1_024;
/// Most retries a job may ask for.
pub const MAX_RETRIES: i64 = 1_000;
/// Most headers on one job (spec 1.1).
pub const MAX_HEADERS: usize = 64;
/// Longest header value, bytes (spec 1.1); names follow the job id rule.
pub const MAX_HEADER_VALUE_BYTES: usize = 8_192;

/// Why a job cannot be enqueued (or, in a worker, run) as given.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum InvalidJob {
    /// The queue name is empty, too long, or has braces or white space.
    #[error(
        "invalid queue name {0:?}: it must be 1 to 128 bytes of UTF-8 without '{{', '}}' or white space"
    )]
    QueueName(String),
    /// The task name is empty or too long.
    #[error("invalid task name {0:?}: it must be 1 to 256 bytes of UTF-8")]
    TaskName(String),
    /// The job id is empty, too long or has white space.
    #[error("invalid job id {0:?}: it must be 1 to 256 bytes of UTF-8 without white space")]
    JobId(String),
    /// The priority is not an integer 0..=9.
    #[error("invalid priority {0}: it must be an integer from 0 to 9")]
    Priority(String),
    /// A `delay_ms` or `schedule_ms` outside its bounds, or both given.
    #[error("invalid {name} {value}: {rule}")]
    Delay {
        /// `delay_ms` or `schedule_ms`.
        name: &'static str,
        /// The value as given.
        value: String,
        /// What it must be.
        rule: String,
    },
    /// An override outside its bounds.
    #[error("invalid {name} {value}: it must be an integer from 0 to {max}")]
    Option {
        /// `max_retries`, `timeout_ms`, `backoff_ms` or `result_ttl_ms`.
        name: &'static str,
        /// The value as given.
        value: String,
        /// Its largest allowed value.
        max: i64,
    },
    /// A header outside the bounds of SPEC.md section 3.1 (spec 1.1):
    /// reported as `InvalidOption`.
    #[error("invalid headers: {0}")]
    Headers(String),
    /// An `expires_ms` outside its bounds, not after now, or not after the
    /// job's due time (1.1).
    #[error("invalid expires_ms {value}: {rule}")]
    Expiry {
        /// The value as given.
        value: String,
        /// What it must be.
        rule: String,
    },
    /// The encoded job is over the size limit.
    #[error("job of {0} bytes is larger than the limit of 1048576 bytes")]
    PayloadTooLarge(usize),
}

impl InvalidJob {
    /// A `delay_ms` outside 0..=100 years.
    pub fn delay(value: String) -> Self {
        Self::Delay {
            name: "delay_ms",
            value,
            rule: format!("it must be an integer from 0 to {MAX_DURATION_MS}"),
        }
    }

    /// A `schedule_ms` outside 0..=9999-12-31.
    pub fn schedule(value: String) -> Self {
        Self::Delay {
            name: "schedule_ms",
            value,
            rule: format!(
                "it must be an integer from 0 to {MAX_SCHEDULE_MS} (ms since the Unix epoch)"
            ),
        }
    }

    /// `delay_ms` and `schedule_ms` together.
    pub fn delay_and_schedule() -> Self {
        Self::Delay {
            name: "delay_ms",
            value: "with schedule_ms".into(),
            rule: "give delay_ms or schedule_ms, not both".into(),
        }
    }
}

/// Whether `c` has Unicode's `White_Space` property (Rust's
/// `char::is_whitespace` is exactly that property).
fn is_white_space(c: char) -> bool {
    c.is_whitespace()
}

/// Checks a queue name.
pub fn check_queue_name(queue: &str) -> Result<(), InvalidJob> {
    if queue.is_empty()
        || queue.len() > MAX_QUEUE_NAME_BYTES
        || queue
            .chars()
            .any(|c| c == '{' || c == '}' || is_white_space(c))
    {
        return Err(InvalidJob::QueueName(queue.to_owned()));
    }
    Ok(())
}

/// Checks a task name.
pub fn check_task_name(task: &str) -> Result<(), InvalidJob> {
    if task.is_empty() || task.len() > MAX_NAME_BYTES {
        return Err(InvalidJob::TaskName(task.to_owned()));
    }
    Ok(())
}

/// Checks a job id.
pub fn check_job_id(id: &str) -> Result<(), InvalidJob> {
    if id.is_empty() || id.len() > MAX_NAME_BYTES || id.chars().any(is_white_space) {
        return Err(InvalidJob::JobId(id.to_owned()));
    }
    Ok(())
}

/// Checks a job's headers (spec 1.1): at most 64; each name 1 to 256
/// bytes without white space (the job id rule), each value 1 to 8192 bytes.
pub fn check_headers<'a>(
    headers: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) -> Result<(), InvalidJob> {
    if headers.len() > MAX_HEADERS {
        return Err(InvalidJob::Headers(format!(
            "{} headers, at most {MAX_HEADERS} are allowed",
            headers.len()
        )));
    }
    for (name, value) in headers {
        if name.is_empty() || name.len() > MAX_NAME_BYTES || name.chars().any(is_white_space) {
            return Err(InvalidJob::Headers(format!(
                "header name {name:?} must be 1 to 256 bytes of UTF-8 without white space"
            )));
        }
        if value.is_empty() || value.len() > MAX_HEADER_VALUE_BYTES {
            return Err(InvalidJob::Headers(format!(
                "the value of header {name:?} must be 1 to {MAX_HEADER_VALUE_BYTES} bytes, not {}",
                value.len()
            )));
        }
    }
    Ok(())
}

/// Checks a priority and returns it as a level.
pub fn check_priority(priority: i64) -> Result<u32, InvalidJob> {
    if (0..i64::from(PRIORITY_LEVELS)).contains(&priority) {
        Ok(priority as u32)
    } else {
        Err(InvalidJob::Priority(priority.to_string()))
    }
}

/// Checks a delay.
pub fn check_delay(delay_ms: i64) -> Result<(), InvalidJob> {
    if (0..=MAX_DURATION_MS).contains(&delay_ms) {
        Ok(())
    } else {
        Err(InvalidJob::delay(delay_ms.to_string()))
    }
}

/// Checks a scheduled time.
pub fn check_schedule(at_ms: i64) -> Result<(), InvalidJob> {
    if (0..=MAX_SCHEDULE_MS).contains(&at_ms) {
        Ok(())
    } else {
        Err(InvalidJob::schedule(at_ms.to_string()))
    }
}

/// Checks `max_retries` and returns it as the record's field.
pub fn check_max_retries(retries: i64) -> Result<u32, InvalidJob> {
    if (0..=MAX_RETRIES).contains(&retries) {
        Ok(retries as u32)
    } else {
        Err(InvalidJob::Option {
            name: "max_retries",
            value: retries.to_string(),
            max: MAX_RETRIES,
        })
    }
}

/// Checks a duration override (`timeout_ms`, `backoff_ms`, `result_ttl_ms`)
/// and returns it as the record's field.
pub fn check_duration(name: &'static str, ms: i64) -> Result<u64, InvalidJob> {
    if (0..=MAX_DURATION_MS).contains(&ms) {
        Ok(ms as u64)
    } else {
        Err(InvalidJob::Option {
            name,
            value: ms.to_string(),
            max: MAX_DURATION_MS,
        })
    }
}

/// Checks `expires_ms` (1.1): an integer 1..=`MAX_SCHEDULE_MS`, later than
/// the clock `now_ms`, and later than `due_ms` when the job is delayed.
pub fn check_expires(expires_ms: i64, now_ms: i64, due_ms: i64) -> Result<i64, InvalidJob> {
    let rule = if !(1..=MAX_SCHEDULE_MS).contains(&expires_ms) {
        format!("it must be an integer from 1 to {MAX_SCHEDULE_MS}")
    } else if expires_ms <= now_ms {
        format!("it must be later than now ({now_ms})")
    } else if due_ms > 0 && expires_ms <= due_ms {
        format!("it must be later than the job's due time ({due_ms})")
    } else {
        return Ok(expires_ms);
    };
    Err(InvalidJob::Expiry {
        value: expires_ms.to_string(),
        rule,
    })
}

/// An `expires_ms` that is not an integer.
pub fn expires_not_an_integer(value: String) -> InvalidJob {
    InvalidJob::Expiry {
        value,
        rule: format!("it must be an integer from 1 to {MAX_SCHEDULE_MS}"),
    }
}

/// Checks a progress report (SPEC.md section 16): a finite fraction from 0
/// to 1 and a message of at most 1,024 bytes. The error says which.
pub fn check_progress(fraction: f64, message: &str) -> Result<(), String> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(format!(
            "progress {fraction} is not a fraction from 0.0 to 1.0"
        ));
    }
    if message.len() > MAX_PROGRESS_MESSAGE_BYTES {
        return Err(format!(
            "progress message of {} bytes is longer than {MAX_PROGRESS_MESSAGE_BYTES}",
            message.len()
        ));
    }
    Ok(())
}

/// Checks an encoded job's size.
pub fn check_record_size(len: usize) -> Result<(), InvalidJob> {
    if len > MAX_RECORD_BYTES {
        return Err(InvalidJob::PayloadTooLarge(len));
    }
    Ok(())
}

/// Checks the overrides of a decoded `Job` record against their bounds: a
/// worker's check of records from producers it does not know.
pub fn check_overrides(job: &crate::Job) -> Result<(), InvalidJob> {
    fn duration(name: &'static str, value: Option<u64>) -> Result<(), InvalidJob> {
        match value {
            Some(ms) if ms > MAX_DURATION_MS as u64 => Err(InvalidJob::Option {
                name,
                value: ms.to_string(),
                max: MAX_DURATION_MS,
            }),
            _ => Ok(()),
        }
    }
    if let Some(retries) = job.max_retries {
        check_max_retries(i64::from(retries))?;
    }
    duration("timeout_ms", job.timeout_ms)?;
    duration("backoff_ms", job.backoff_ms)?;
    duration("result_ttl_ms", job.result_ttl_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_is_inclusive() {
        assert!(check_delay(MAX_DURATION_MS).is_ok());
        assert!(check_delay(MAX_DURATION_MS + 1).is_err());
        assert!(check_delay(-1).is_err());
        assert!(check_schedule(MAX_SCHEDULE_MS).is_ok());
        assert!(check_schedule(MAX_SCHEDULE_MS + 1).is_err());
        assert!(check_schedule(-1).is_err());
        assert_eq!(check_max_retries(MAX_RETRIES), Ok(1000));
        assert!(check_max_retries(MAX_RETRIES + 1).is_err());
        assert!(check_duration("timeout_ms", MAX_DURATION_MS).is_ok());
        assert!(check_duration("timeout_ms", -1).is_err());
        assert_eq!(check_expires(MAX_SCHEDULE_MS, 10, 0), Ok(MAX_SCHEDULE_MS));
        assert!(check_expires(MAX_SCHEDULE_MS + 1, 10, 0).is_err());
        assert!(check_expires(0, -5, 0).is_err());
        assert!(check_expires(11, 10, 0).is_ok());
        assert!(check_expires(10, 10, 0).is_err());
        assert!(check_expires(20, 10, 20).is_err());
        assert!(check_expires(21, 10, 20).is_ok());
    }

    #[test]
    fn names_follow_the_white_space_property() {
        assert!(check_job_id("a\u{1f}b\u{200b}c").is_ok());
        assert!(check_job_id("a\u{85}b").is_err());
        assert!(check_queue_name("a\u{3000}b").is_err());
        assert!(check_queue_name(&"q".repeat(128)).is_ok());
        assert!(check_queue_name(&"q".repeat(129)).is_err());
        assert!(check_queue_name("a{b").is_err());
        assert!(check_queue_name("").is_err());
    }

    #[test]
    fn a_record_with_an_unbounded_ttl_is_refused() {
        let job = crate::Job {
            result_ttl_ms: Some(1 << 63),
            ..crate::Job::default()
        };
        assert!(matches!(
            check_overrides(&job),
            Err(InvalidJob::Option {
                name: "result_ttl_ms",
                ..
            })
        ));
        assert!(check_overrides(&crate::Job::default()).is_ok());
    }
}
