//! Admission: checks one stream entry against SPEC.md section 9 (fields,
//! size, record, version, bounds, registered task, arguments) before it may
//! run, and names the reason when it may not.

use std::collections::HashMap;

use ardiq_spec::limits::check_job_id;
use ardiq_spec::limits::MAX_NAME_BYTES;
use ardiq_spec::limits::MAX_RECORD_BYTES;
use ardiq_spec::Job;
use ardiq_spec::Value;
use prost::Message as _;

use super::TaskConfig;

/// Why an entry must not run.
#[derive(Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Reason code of SPEC.md section 9.
    pub reason: &'static str,
    /// Explanation.
    pub detail: String,
    /// Job id when readable.
    pub job_id: String,
    /// Task name when readable.
    pub task: String,
    /// The entry's `id` field as `fetch.lua` recorded it in `running`, any
    /// bytes (empty when the entry has none): what its dead letter removes
    /// from `running`.
    pub id_field: Vec<u8>,
}

/// A decoded entry ready to run.
#[derive(Debug)]
pub struct Accepted {
    /// The record.
    pub job: Job,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Vec<(String, Value)>,
}

/// A stream entry as the engine holds it: built straight from `fetch.lua`'s
/// flat reply, or from an `XREADGROUP` or `XAUTOCLAIM` reply
/// (`ardiq_client::entries`).
pub use ardiq_client::entries::Entry;

/// Checks one stream entry against SPEC.md section 9.
#[allow(clippy::implicit_hasher)]
pub fn validate(entry: &Entry, tasks: &HashMap<String, TaskConfig>) -> Result<Accepted, Rejection> {
    let id_field = entry.field("id");
    let reject = |reason, detail: String, job_id: &str, task: &str| Rejection {
        reason,
        detail,
        job_id: job_id.to_owned(),
        task: task.to_owned(),
        id_field: id_field.unwrap_or_default().to_vec(),
    };
    let id = id_field.and_then(|b| std::str::from_utf8(b).ok());
    let task = entry
        .field("task")
        .and_then(|b| std::str::from_utf8(b).ok());
    let (Some(id), Some(task), Some(raw)) = (id, task, entry.field("job")) else {
        return Err(reject(
            "malformed_entry",
            "the entry needs UTF-8 fields id and task and a job field".into(),
            id.unwrap_or(""),
            task.unwrap_or(""),
        ));
    };
    // An id no producer may write (SPEC.md section 1) names no status key;
    // one too long to be an id is not repeated in the dead letter.
    if id.len() > MAX_NAME_BYTES {
        return Err(reject(
            "malformed_entry",
            format!(
                "the job id is {} bytes, over the limit of {MAX_NAME_BYTES}",
                id.len()
            ),
            "",
            task,
        ));
    }
    if let Err(invalid) = check_job_id(id) {
        return Err(reject("malformed_entry", invalid.to_string(), id, task));
    }
    if raw.len() > MAX_RECORD_BYTES {
        return Err(reject(
            "oversize",
            format!(
                "job of {} bytes is over the limit of {MAX_RECORD_BYTES}",
                raw.len()
            ),
            id,
            task,
        ));
    }
    let job = Job::decode(raw).map_err(|e| {
        reject(
            "undecodable_job",
            format!("not a Job record: {e}"),
            id,
            task,
        )
    })?;
    if !ardiq_spec::is_supported_version(&job.spec_version) {
        return Err(reject(
            "unsupported_version",
            format!("spec version {:?} is not 1.x", job.spec_version),
            id,
            task,
        ));
    }
    if job.id != id || job.task != task {
        return Err(reject(
            "undecodable_job",
            format!(
                "record says id {:?} task {:?}, the entry says {id:?} {task:?}",
                job.id, job.task
            ),
            id,
            task,
        ));
    }
    if let Err(invalid) = ardiq_spec::limits::check_overrides(&job) {
        return Err(reject("invalid_option", invalid.to_string(), id, task));
    }
    if !tasks.contains_key(task) {
        return Err(reject(
            "unknown_task",
            format!("no task named {task:?} is registered"),
            id,
            task,
        ));
    }
    let args = if job.args.is_empty() {
        Vec::new()
    } else {
        match ardiq_spec::value::decode_arguments(&job.args, "args") {
            Ok(Value::Array(items)) => items,
            Ok(_) => {
                return Err(reject(
                    "undecodable_args",
                    "args is not an array".into(),
                    id,
                    task,
                ))
            }
            Err(e) => return Err(reject("undecodable_args", format!("args: {e}"), id, task)),
        }
    };
    let kwargs = if job.kwargs.is_empty() {
        Vec::new()
    } else {
        match ardiq_spec::value::decode_arguments(&job.kwargs, "kwargs") {
            Ok(Value::Map(entries)) => entries,
            Ok(_) => {
                return Err(reject(
                    "undecodable_args",
                    "kwargs is not a map".into(),
                    id,
                    task,
                ))
            }
            Err(e) => return Err(reject("undecodable_args", format!("kwargs: {e}"), id, task)),
        }
    };
    Ok(Accepted { job, args, kwargs })
}
