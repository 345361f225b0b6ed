//! `encode_record` and `decode_record`: the `Job` and `Status` records as
//! the protocol's JSON fields (int64 and uint64 as decimal strings, bytes as
//! hex, enums as numbers, default-valued fields omitted, optional fields
//! present when set).

use ardiq_client::spec::{Error as RemoteError, Job, Progress, Status};
use prost::Message as _;
use serde_json::{Map, Value as Json};

use crate::typed::{from_hex, to_hex};

type Fields = Map<String, Json>;

/// Encodes `fields` as `message` and returns the bytes.
pub fn encode(message: &str, fields: &Fields) -> Result<Vec<u8>, String> {
    match message {
        "Job" => Ok(job_from(fields)?.encode_to_vec()),
        "Status" => Ok(status_from(fields)?.encode_to_vec()),
        other => Err(format!("unknown message {other:?}")),
    }
}

/// Why bytes could not be decoded: an unknown message name, or bad bytes.
#[derive(Debug)]
pub enum DecodeError {
    UnknownMessage(String),
    Malformed(String),
}

/// Decodes `bytes` as `message` into fields.
pub fn decode(message: &str, bytes: &[u8]) -> Result<Fields, DecodeError> {
    let malformed = |err: prost::DecodeError| DecodeError::Malformed(err.to_string());
    match message {
        "Job" => Ok(job_fields(&Job::decode(bytes).map_err(malformed)?)),
        "Status" => Ok(status_fields(&Status::decode(bytes).map_err(malformed)?)),
        other => Err(DecodeError::UnknownMessage(other.to_owned())),
    }
}

fn text(fields: &Fields, name: &str) -> Result<String, String> {
    match fields.get(name) {
        None => Ok(String::new()),
        Some(Json::String(value)) => Ok(value.clone()),
        Some(other) => Err(format!("{name} must be a string, found {other}")),
    }
}

fn bytes(fields: &Fields, name: &str) -> Result<Vec<u8>, String> {
    match fields.get(name) {
        None => Ok(Vec::new()),
        Some(Json::String(hex)) => from_hex(hex).ok_or_else(|| format!("{name} is not hex")),
        Some(other) => Err(format!("{name} must be hex, found {other}")),
    }
}

fn small(fields: &Fields, name: &str) -> Result<Option<u32>, String> {
    fields
        .get(name)
        .map(|value| {
            value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("{name} must be a uint32, found {value}"))
        })
        .transpose()
}

fn enum_number(fields: &Fields, name: &str) -> Result<i32, String> {
    fields.get(name).map_or(Ok(0), |value| {
        value
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| format!("{name} must be an enum number, found {value}"))
    })
}

fn decimal<T: std::str::FromStr>(fields: &Fields, name: &str) -> Result<Option<T>, String> {
    fields
        .get(name)
        .map(|value| {
            value
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("{name} must be a decimal string, found {value}"))
        })
        .transpose()
}

fn job_from(fields: &Fields) -> Result<Job, String> {
    Ok(Job {
        spec_version: text(fields, "spec_version")?,
        id: text(fields, "id")?,
        task: text(fields, "task")?,
        args: bytes(fields, "args")?,
        kwargs: bytes(fields, "kwargs")?,
        priority: small(fields, "priority")?.unwrap_or(0),
        enqueued_ms: decimal(fields, "enqueued_ms")?.unwrap_or(0),
        due_ms: decimal(fields, "due_ms")?.unwrap_or(0),
        attempt: small(fields, "attempt")?.unwrap_or(0),
        max_retries: small(fields, "max_retries")?,
        timeout_ms: decimal(fields, "timeout_ms")?,
        backoff_ms: decimal(fields, "backoff_ms")?,
        result_ttl_ms: decimal(fields, "result_ttl_ms")?,
        headers: match fields.get("headers") {
            None => std::collections::BTreeMap::new(),
            Some(Json::Object(map)) => map
                .iter()
                .map(|(name, value)| {
                    value
                        .as_str()
                        .map(|v| (name.clone(), v.to_owned()))
                        .ok_or_else(|| format!("header {name} must be a string"))
                })
                .collect::<Result<_, String>>()?,
            Some(other) => return Err(format!("headers must be an object, found {other}")),
        },
        expires_ms: decimal(fields, "expires_ms")?,
    })
}

fn status_from(fields: &Fields) -> Result<Status, String> {
    let error = match fields.get("error") {
        None => None,
        Some(Json::Object(error)) => Some(RemoteError {
            r#type: text(error, "type")?,
            message: text(error, "message")?,
            traceback: text(error, "traceback")?,
        }),
        Some(other) => return Err(format!("error must be an object, found {other}")),
    };
    let progress = match fields.get("progress") {
        None => None,
        Some(Json::Object(progress)) => Some(Progress {
            fraction: match progress.get("fraction") {
                None => 0.0,
                Some(value) => value
                    .as_f64()
                    .ok_or_else(|| format!("fraction must be a number, found {value}"))?,
            },
            message: text(progress, "message")?,
            updated_ms: decimal(progress, "updated_ms")?.unwrap_or(0),
        }),
        Some(other) => return Err(format!("progress must be an object, found {other}")),
    };
    Ok(Status {
        spec_version: text(fields, "spec_version")?,
        state: enum_number(fields, "state")?,
        value: bytes(fields, "value")?,
        error,
        attempts: small(fields, "attempts")?.unwrap_or(0),
        enqueued_ms: decimal(fields, "enqueued_ms")?.unwrap_or(0),
        started_ms: decimal(fields, "started_ms")?.unwrap_or(0),
        finished_ms: decimal(fields, "finished_ms")?.unwrap_or(0),
        worker_id: text(fields, "worker_id")?,
        task: text(fields, "task")?,
        progress,
    })
}

/// Collects fields, leaving out the default-valued ones.
#[derive(Default)]
struct Out(Fields);

impl Out {
    fn text(mut self, name: &str, value: &str) -> Self {
        if !value.is_empty() {
            self.0.insert(name.to_owned(), Json::from(value));
        }
        self
    }
    fn bytes(mut self, name: &str, value: &[u8]) -> Self {
        if !value.is_empty() {
            self.0.insert(name.to_owned(), Json::from(to_hex(value)));
        }
        self
    }
    fn number(mut self, name: &str, value: i64) -> Self {
        if value != 0 {
            self.0.insert(name.to_owned(), Json::from(value));
        }
        self
    }
    fn decimal(mut self, name: &str, value: i64) -> Self {
        if value != 0 {
            self.0
                .insert(name.to_owned(), Json::from(value.to_string()));
        }
        self
    }
    fn optional_number(mut self, name: &str, value: Option<u32>) -> Self {
        if let Some(value) = value {
            self.0.insert(name.to_owned(), Json::from(value));
        }
        self
    }
    fn optional_decimal(mut self, name: &str, value: Option<impl ToString>) -> Self {
        if let Some(value) = value {
            self.0
                .insert(name.to_owned(), Json::from(value.to_string()));
        }
        self
    }
}

fn job_fields(job: &Job) -> Fields {
    let mut out = Out::default()
        .text("spec_version", &job.spec_version)
        .text("id", &job.id)
        .text("task", &job.task)
        .bytes("args", &job.args)
        .bytes("kwargs", &job.kwargs)
        .number("priority", job.priority.into())
        .decimal("enqueued_ms", job.enqueued_ms)
        .decimal("due_ms", job.due_ms)
        .number("attempt", job.attempt.into())
        .optional_number("max_retries", job.max_retries)
        .optional_decimal("timeout_ms", job.timeout_ms)
        .optional_decimal("backoff_ms", job.backoff_ms)
        .optional_decimal("result_ttl_ms", job.result_ttl_ms)
        .optional_decimal("expires_ms", job.expires_ms);
    if !job.headers.is_empty() {
        let headers = job
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Json::from(value.as_str())))
            .collect();
        out.0.insert("headers".to_owned(), Json::Object(headers));
    }
    out.0
}

fn status_fields(status: &Status) -> Fields {
    let mut out = Out::default()
        .text("spec_version", &status.spec_version)
        .number("state", status.state.into())
        .bytes("value", &status.value);
    if let Some(error) = &status.error {
        let error = Out::default()
            .text("type", &error.r#type)
            .text("message", &error.message)
            .text("traceback", &error.traceback);
        out.0.insert("error".to_owned(), Json::Object(error.0));
    }
    let mut out = out
        .number("attempts", status.attempts.into())
        .decimal("enqueued_ms", status.enqueued_ms)
        .decimal("started_ms", status.started_ms)
        .decimal("finished_ms", status.finished_ms)
        .text("worker_id", &status.worker_id)
        .text("task", &status.task);
    if let Some(progress) = &status.progress {
        let mut fields = Out::default()
            .text("message", &progress.message)
            .decimal("updated_ms", progress.updated_ms);
        if progress.fraction != 0.0 {
            fields
                .0
                .insert("fraction".to_owned(), Json::from(progress.fraction));
        }
        out.0.insert("progress".to_owned(), Json::Object(fields.0));
    }
    out.0
}
