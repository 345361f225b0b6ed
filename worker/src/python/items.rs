//! Reading an enqueue item from Python into the producer core's
//! `JobRequest`: names must be valid UTF-8 `str`s, integer options real
//! `int`s (never a `bool`) that fit int64, and the arguments are encoded
//! straight from the Python objects. Every failure is the option's typed
//! error; nothing is coerced.

use ardiq_spec::enqueue::{self as build, JobRequest};
use ardiq_spec::limits;
use ardiq_spec::limits::{InvalidJob, MAX_DURATION_MS, MAX_RETRIES};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyString, PyTuple};

use super::convert;
use crate::error::CoreError;

fn encode_args(obj: &Bound<'_, PyAny>, root: &str) -> Result<Vec<u8>, CoreError> {
    let empty = obj.is_none() || obj.len().is_ok_and(|n| n == 0);
    if empty {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    convert::encode_arguments(obj, &mut out, root)?;
    Ok(out)
}

fn repr(obj: &Bound<'_, PyAny>) -> String {
    obj.repr().map_or_else(|_| "?".into(), |r| r.to_string())
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".into(), |n| n.to_string())
}

/// A name option: a `str` of valid UTF-8 (a lone surrogate is not), or the
/// name's typed error.
fn text(obj: &Bound<'_, PyAny>, invalid: fn(String) -> InvalidJob) -> Result<String, CoreError> {
    match obj.cast::<PyString>() {
        Ok(s) => s
            .to_str()
            .map(str::to_owned)
            .map_err(|_| invalid(s.to_string_lossy().into_owned()).into()),
        Err(_) => Err(invalid(format!("of type {}", type_name(obj))).into()),
    }
}

/// An integer option: `None`, or an `int` (never a `bool`) that fits int64;
/// anything else is the option's typed error, so no value is coerced.
fn int_option(
    obj: &Bound<'_, PyAny>,
    invalid: impl Fn(String) -> InvalidJob,
) -> Result<Option<i64>, CoreError> {
    if obj.is_none() {
        return Ok(None);
    }
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return Err(invalid(repr(obj)).into());
    }
    obj.extract::<i64>()
        .map(Some)
        .map_err(|_| invalid(repr(obj)).into())
}

fn bounded(name: &'static str, max: i64) -> impl Fn(String) -> InvalidJob {
    move |value| InvalidJob::Option { name, value, max }
}

/// The queue an enqueue item names (its 13th field), `None` for the app's.
pub fn queue_of(tuple: &Bound<'_, PyTuple>) -> Result<Option<String>, CoreError> {
    match tuple.get_item(12) {
        Ok(queue) if !queue.is_none() => {
            let queue = text(&queue, InvalidJob::QueueName)?;
            limits::check_queue_name(&queue)?;
            Ok(Some(queue))
        }
        _ => Ok(None),
    }
}

/// The headers an enqueue item names (its 13th field, spec 1.1): `None`,
/// or a dict of `str` to `str`; anything else is `InvalidOption`.
fn headers_of(
    tuple: &Bound<'_, PyTuple>,
) -> Result<std::collections::BTreeMap<String, String>, CoreError> {
    let mut headers = std::collections::BTreeMap::new();
    let Ok(given) = tuple.get_item(13) else {
        return Ok(headers);
    };
    if given.is_none() {
        return Ok(headers);
    }
    let invalid = |what: String| CoreError::from(InvalidJob::Headers(what));
    let dict = given.cast::<PyDict>().map_err(|_| {
        invalid(format!(
            "headers must be a dict of str, not {}",
            type_name(&given)
        ))
    })?;
    for (name, value) in dict.iter() {
        let text_of = |obj: &Bound<'_, PyAny>| -> Result<String, CoreError> {
            obj.cast::<PyString>()
                .ok()
                .and_then(|s| s.to_str().ok().map(str::to_owned))
                .ok_or_else(|| invalid(format!("{} is not a str of valid UTF-8", repr(obj))))
        };
        headers.insert(text_of(&name)?, text_of(&value)?);
    }
    Ok(headers)
}

/// Reads one enqueue item tuple (an `ardiq.PreparedJob`): `(task, args,
/// kwargs, priority, delay_ms, schedule_ms, job_id, max_retries,
/// timeout_ms, backoff_ms, result_ttl_ms, expires_ms, queue, headers)`.
pub fn item_from(tuple: &Bound<'_, PyTuple>) -> Result<JobRequest, CoreError> {
    let get = |index| {
        tuple
            .get_item(index)
            .map_err(|e| CoreError::Internal(e.to_string()))
    };
    let job_id = get(6)?;
    Ok(JobRequest {
        task: text(&get(0)?, InvalidJob::TaskName)?,
        args: encode_args(&get(1)?, "args")?,
        kwargs: encode_args(&get(2)?, "kwargs")?,
        priority: int_option(&get(3)?, InvalidJob::Priority)?,
        delay_ms: int_option(&get(4)?, InvalidJob::delay)?,
        schedule_ms: int_option(&get(5)?, InvalidJob::schedule)?,
        job_id: if job_id.is_none() {
            None
        } else {
            Some(text(&job_id, InvalidJob::JobId)?)
        },
        max_retries: int_option(&get(7)?, bounded("max_retries", MAX_RETRIES))?,
        timeout_ms: int_option(&get(8)?, bounded("timeout_ms", MAX_DURATION_MS))?,
        backoff_ms: int_option(&get(9)?, bounded("backoff_ms", MAX_DURATION_MS))?,
        result_ttl_ms: int_option(&get(10)?, bounded("result_ttl_ms", MAX_DURATION_MS))?,
        expires_ms: int_option(&get(11)?, limits::expires_not_an_integer)?,
        headers: headers_of(tuple)?,
    })
}

/// The exact `enqueue.lua` KEYS and ARGV for one job at clock `now_ms`
/// (the conformance testee's view of the producer core).
#[pyfunction]
pub fn build_enqueue<'py>(
    py: Python<'py>,
    queue: &str,
    item: &Bound<'py, PyTuple>,
    now_ms: i64,
) -> PyResult<(Vec<String>, Vec<Bound<'py, PyBytes>>)> {
    limits::check_queue_name(queue).map_err(CoreError::from)?;
    let job = item_from(item)?.prepare(now_ms).map_err(CoreError::from)?;
    let (keys, argv) = build::enqueue_call(&ardiq_spec::QueueKeys::new(queue), &[job]);
    Ok((keys, argv.iter().map(|a| PyBytes::new(py, a)).collect()))
}
