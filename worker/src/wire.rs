//! Record codec for tools and the conformance testee: `Job` and `Status`
//! records to and from dicts keyed by their `.proto` field names (64-bit
//! integers as decimal strings, bytes as lowercase hex, enums and 32-bit
//! integers as numbers, optional fields only when set).

use ardiq_spec::{Error as WireError, Job, Status};
use prost::Message;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::error::CoreError;

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

fn unhex(text: &str) -> PyResult<Vec<u8>> {
    if text.len() % 2 != 0 {
        return Err(PyValueError::new_err(format!("odd-length hex {text:?}")));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16)
                .map_err(|_| PyValueError::new_err(format!("invalid hex {text:?}")))
        })
        .collect()
}

fn get<'py>(fields: &Bound<'py, PyDict>, name: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    fields.get_item(name)
}

fn text(fields: &Bound<'_, PyDict>, name: &str) -> PyResult<String> {
    get(fields, name)?.map_or_else(|| Ok(String::new()), |v| v.extract())
}

fn bytes(fields: &Bound<'_, PyDict>, name: &str) -> PyResult<Vec<u8>> {
    get(fields, name)?.map_or_else(|| Ok(Vec::new()), |v| unhex(&v.extract::<String>()?))
}

fn wide<T: std::str::FromStr>(value: &Bound<'_, PyAny>) -> PyResult<T> {
    let text: String = if value.is_instance_of::<PyString>() {
        value.extract()?
    } else {
        value.str()?.to_string()
    };
    text.parse()
        .map_err(|_| PyValueError::new_err(format!("not a 64-bit integer: {text:?}")))
}

fn opt_wide<T: std::str::FromStr>(fields: &Bound<'_, PyDict>, name: &str) -> PyResult<Option<T>> {
    get(fields, name)?.map(|v| wide(&v)).transpose()
}

fn narrow(fields: &Bound<'_, PyDict>, name: &str) -> PyResult<Option<u32>> {
    get(fields, name)?.map(|v| v.extract()).transpose()
}

fn job_from(fields: &Bound<'_, PyDict>) -> PyResult<Job> {
    Ok(Job {
        spec_version: text(fields, "spec_version")?,
        id: text(fields, "id")?,
        task: text(fields, "task")?,
        args: bytes(fields, "args")?,
        kwargs: bytes(fields, "kwargs")?,
        priority: narrow(fields, "priority")?.unwrap_or(0),
        enqueued_ms: opt_wide(fields, "enqueued_ms")?.unwrap_or(0),
        due_ms: opt_wide(fields, "due_ms")?.unwrap_or(0),
        attempt: narrow(fields, "attempt")?.unwrap_or(0),
        max_retries: narrow(fields, "max_retries")?,
        timeout_ms: opt_wide(fields, "timeout_ms")?,
        backoff_ms: opt_wide(fields, "backoff_ms")?,
        result_ttl_ms: opt_wide(fields, "result_ttl_ms")?,
    })
}

fn status_from(fields: &Bound<'_, PyDict>) -> PyResult<Status> {
    let error = match get(fields, "error")? {
        Some(e) => {
            let e = e.cast_into::<PyDict>()?;
            Some(WireError {
                r#type: text(&e, "type")?,
                message: text(&e, "message")?,
                traceback: text(&e, "traceback")?,
            })
        }
        None => None,
    };
    Ok(Status {
        spec_version: text(fields, "spec_version")?,
        state: narrow(fields, "state")?.unwrap_or(0) as i32,
        value: bytes(fields, "value")?,
        error,
        attempts: narrow(fields, "attempts")?.unwrap_or(0),
        enqueued_ms: opt_wide(fields, "enqueued_ms")?.unwrap_or(0),
        started_ms: opt_wide(fields, "started_ms")?.unwrap_or(0),
        finished_ms: opt_wide(fields, "finished_ms")?.unwrap_or(0),
        worker_id: text(fields, "worker_id")?,
        task: text(fields, "task")?,
    })
}

/// Encodes a `Job` or `Status` record from its fields.
#[pyfunction]
pub fn encode_record<'py>(
    py: Python<'py>,
    message: &str,
    fields: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyBytes>> {
    let encoded = match message {
        "Job" => job_from(fields)?.encode_to_vec(),
        "Status" => status_from(fields)?.encode_to_vec(),
        other => return Err(PyValueError::new_err(format!("no record named {other:?}"))),
    };
    Ok(PyBytes::new(py, &encoded))
}

fn put_text(d: &Bound<'_, PyDict>, name: &str, value: &str) -> PyResult<()> {
    if value.is_empty() {
        Ok(())
    } else {
        d.set_item(name, value)
    }
}

fn put_bytes(d: &Bound<'_, PyDict>, name: &str, value: &[u8]) -> PyResult<()> {
    if value.is_empty() {
        Ok(())
    } else {
        d.set_item(name, hex(value))
    }
}

fn put_wide(d: &Bound<'_, PyDict>, name: &str, value: i64) -> PyResult<()> {
    if value == 0 {
        Ok(())
    } else {
        d.set_item(name, value.to_string())
    }
}

fn put_narrow(d: &Bound<'_, PyDict>, name: &str, value: u32) -> PyResult<()> {
    if value == 0 {
        Ok(())
    } else {
        d.set_item(name, value)
    }
}

/// Decodes a `Job` or `Status` record into its fields.
#[pyfunction]
pub fn decode_record<'py>(
    py: Python<'py>,
    message: &str,
    data: &[u8],
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let malformed =
        |e: prost::DecodeError| PyErr::from(CoreError::Malformed(format!("{message}: {e}")));
    match message {
        "Job" => {
            let job = Job::decode(data).map_err(malformed)?;
            put_text(&d, "spec_version", &job.spec_version)?;
            put_text(&d, "id", &job.id)?;
            put_text(&d, "task", &job.task)?;
            put_bytes(&d, "args", &job.args)?;
            put_bytes(&d, "kwargs", &job.kwargs)?;
            put_narrow(&d, "priority", job.priority)?;
            put_wide(&d, "enqueued_ms", job.enqueued_ms)?;
            put_wide(&d, "due_ms", job.due_ms)?;
            put_narrow(&d, "attempt", job.attempt)?;
            if let Some(v) = job.max_retries {
                d.set_item("max_retries", v)?;
            }
            for (name, value) in [
                ("timeout_ms", job.timeout_ms),
                ("backoff_ms", job.backoff_ms),
                ("result_ttl_ms", job.result_ttl_ms),
            ] {
                if let Some(v) = value {
                    d.set_item(name, v.to_string())?;
                }
            }
        }
        "Status" => {
            let status = Status::decode(data).map_err(malformed)?;
            put_text(&d, "spec_version", &status.spec_version)?;
            if status.state != 0 {
                d.set_item("state", status.state)?;
            }
            put_bytes(&d, "value", &status.value)?;
            if let Some(error) = &status.error {
                let e = PyDict::new(py);
                put_text(&e, "type", &error.r#type)?;
                put_text(&e, "message", &error.message)?;
                put_text(&e, "traceback", &error.traceback)?;
                d.set_item("error", e)?;
            }
            put_narrow(&d, "attempts", status.attempts)?;
            put_wide(&d, "enqueued_ms", status.enqueued_ms)?;
            put_wide(&d, "started_ms", status.started_ms)?;
            put_wide(&d, "finished_ms", status.finished_ms)?;
            put_text(&d, "worker_id", &status.worker_id)?;
            put_text(&d, "task", &status.task)?;
        }
        other => return Err(PyValueError::new_err(format!("no record named {other:?}"))),
    }
    Ok(d)
}
