//! Producer-side limits and validation (SPEC.md section 5).

use thiserror::Error;

use crate::PRIORITY_LEVELS;

/// Largest `Job` record, and largest return value, in bytes.
pub const MAX_RECORD_BYTES: usize = 1_048_576;
/// Longest task name and job id, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Most jobs in one `enqueue.lua` call.
pub const MAX_BATCH: usize = 1_000;
/// Deepest nesting of a user value.
pub const MAX_DEPTH: usize = 64;

/// Why a job cannot be enqueued as given.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum InvalidJob {
    /// The task name is empty or too long.
    #[error("invalid task name {0:?}: it must be 1 to 256 bytes")]
    TaskName(String),
    /// The job id is empty, too long or has white space.
    #[error("invalid job id {0:?}: it must be 1 to 256 bytes without white space")]
    JobId(String),
    /// The priority is outside 0..=9.
    #[error("invalid priority {0}: it must be 0 to 9")]
    Priority(i64),
    /// A negative delay.
    #[error("invalid delay {0} ms: it must not be negative")]
    Delay(i64),
    /// The encoded job is over the size limit.
    #[error("job of {0} bytes is larger than the limit of 1048576 bytes")]
    PayloadTooLarge(usize),
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
    if id.is_empty() || id.len() > MAX_NAME_BYTES || id.chars().any(char::is_whitespace) {
        return Err(InvalidJob::JobId(id.to_owned()));
    }
    Ok(())
}

/// Checks a priority and returns it as a level.
pub fn check_priority(priority: i64) -> Result<u32, InvalidJob> {
    if (0..i64::from(PRIORITY_LEVELS)).contains(&priority) {
        Ok(priority as u32)
    } else {
        Err(InvalidJob::Priority(priority))
    }
}

/// Checks a delay.
pub fn check_delay(delay_ms: i64) -> Result<(), InvalidJob> {
    if delay_ms < 0 {
        return Err(InvalidJob::Delay(delay_ms));
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
