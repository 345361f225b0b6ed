//! Inspection replies as plain Python tuples and lists, which
//! `ardiq.inspect` turns into its dataclasses (the field order is that
//! module's), and the metrics snapshot `ardiq.metrics` reads at a scrape.

use ardiq_client::inspect::{JobDetails, JobPage, QueueInfo, WorkerInfo};
use ardiq_client::KeptFailure;
use ardiq_spec::{Error as WireError, Job, Status};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use super::convert;

fn error<'py>(py: Python<'py>, error: Option<&WireError>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match error {
        Some(e) => (e.r#type.as_str(), e.message.as_str(), e.traceback.as_str())
            .into_pyobject(py)?
            .into_any(),
        None => py.None().into_bound(py),
    })
}

/// User values of a record, decoded; `None` when they do not decode.
fn values<'py>(py: Python<'py>, bytes: &[u8], empty: Bound<'py, PyAny>) -> Bound<'py, PyAny> {
    if bytes.is_empty() {
        return empty;
    }
    ardiq_spec::value::decode(bytes)
        .ok()
        .and_then(|value| convert::to_python(py, &value).ok())
        .map_or_else(|| py.None().into_bound(py), |v| v.into_bound(py))
}

/// `ardiq.inspect.JobRecord` fields: `(job_id, task, args, kwargs,
/// priority, enqueued_ms, due_ms, attempt, max_retries, timeout_ms,
/// backoff_ms, result_ttl_ms, headers)`.
fn job<'py>(py: Python<'py>, job: Option<&Job>) -> PyResult<Bound<'py, PyAny>> {
    let Some(job) = job else {
        return Ok(py.None().into_bound(py));
    };
    let headers = PyDict::new(py);
    for (name, value) in &job.headers {
        headers.set_item(name, value)?;
    }
    let items: Vec<Bound<'py, PyAny>> = vec![
        job.id.as_str().into_pyobject(py)?.into_any(),
        job.task.as_str().into_pyobject(py)?.into_any(),
        values(py, &job.args, PyList::empty(py).into_any()),
        values(py, &job.kwargs, PyDict::new(py).into_any()),
        job.priority.into_pyobject(py)?.into_any(),
        job.enqueued_ms.into_pyobject(py)?.into_any(),
        job.due_ms.into_pyobject(py)?.into_any(),
        job.attempt.into_pyobject(py)?.into_any(),
        job.max_retries.into_pyobject(py)?.into_any(),
        job.timeout_ms.into_pyobject(py)?.into_any(),
        job.backoff_ms.into_pyobject(py)?.into_any(),
        job.result_ttl_ms.into_pyobject(py)?.into_any(),
        job.expires_ms.into_pyobject(py)?.into_any(),
        headers.into_any(),
    ];
    Ok(PyTuple::new(py, items)?.into_any())
}

/// `ardiq.inspect.QueueInfo` fields.
pub fn queue_info(py: Python<'_>, info: QueueInfo) -> PyResult<Py<PyAny>> {
    let levels: Vec<(u32, u64, u64, Option<i64>)> = info
        .levels
        .iter()
        .map(|l| (l.priority, l.waiting, l.held, l.oldest_waiting_ms))
        .collect();
    let lag_ms = info.lag_ms(crate::engine::now_ms());
    let items: Vec<Bound<'_, PyAny>> = vec![
        info.queue.into_pyobject(py)?.into_any(),
        levels.into_pyobject(py)?.into_any(),
        info.waiting.into_pyobject(py)?.into_any(),
        info.held.into_pyobject(py)?.into_any(),
        info.scheduled.into_pyobject(py)?.into_any(),
        info.next_due_ms.into_pyobject(py)?.into_any(),
        info.running.into_pyobject(py)?.into_any(),
        info.dead.into_pyobject(py)?.into_any(),
        info.failed.into_pyobject(py)?.into_any(),
        info.workers.into_pyobject(py)?.into_any(),
        info.oldest_waiting_ms.into_pyobject(py)?.into_any(),
        lag_ms.into_pyobject(py)?.into_any(),
        pyo3::types::PyBool::new(py, info.exists)
            .to_owned()
            .into_any(),
    ];
    Ok(PyTuple::new(py, items)?.into_any().unbind())
}

/// A list of `ardiq.inspect.WorkerInfo` fields.
pub fn workers(py: Python<'_>, workers: Vec<WorkerInfo>) -> PyResult<Py<PyAny>> {
    let list = PyList::empty(py);
    for worker in workers {
        let beat = worker.heartbeat.unwrap_or_default();
        list.append((
            worker.worker_id,
            worker.alive,
            worker.seen_ms,
            beat.hostname,
            beat.pid,
            beat.queues,
            beat.concurrency,
            beat.started_ms,
            beat.running,
            beat.completed,
            beat.failed,
        ))?;
    }
    Ok(list.into_any().unbind())
}

/// `(jobs, next)`: each job as `ardiq.inspect.ListedJob` fields.
pub fn job_page(py: Python<'_>, page: JobPage, state: &str) -> PyResult<Py<PyAny>> {
    let list = PyList::empty(py);
    for listed in page.jobs {
        let items: Vec<Bound<'_, PyAny>> = vec![
            state.into_pyobject(py)?.into_any(),
            listed.job_id.into_pyobject(py)?.into_any(),
            listed.task.into_pyobject(py)?.into_any(),
            job(py, listed.job.as_ref())?,
            listed.entry_id.into_pyobject(py)?.into_any(),
            listed.worker_id.into_pyobject(py)?.into_any(),
            listed.priority.into_pyobject(py)?.into_any(),
            listed.at_ms.into_pyobject(py)?.into_any(),
            listed.idle_ms.into_pyobject(py)?.into_any(),
            listed.deliveries.into_pyobject(py)?.into_any(),
            pyo3::types::PyBool::new(py, listed.in_running)
                .to_owned()
                .into_any(),
            error(py, listed.error.as_ref())?,
            listed.reason.into_pyobject(py)?.into_any(),
            listed.attempts.into_pyobject(py)?.into_any(),
            listed.malformed.into_pyobject(py)?.into_any(),
        ];
        list.append(PyTuple::new(py, items)?)?;
    }
    Ok((list, page.next).into_pyobject(py)?.into_any().unbind())
}

fn status<'py>(py: Python<'py>, record: Option<&Status>) -> PyResult<Bound<'py, PyAny>> {
    let Some(record) = record else {
        return Ok(py.None().into_bound(py));
    };
    let items: Vec<Bound<'py, PyAny>> = vec![
        record.state.into_pyobject(py)?.into_any(),
        values(py, &record.value, py.None().into_bound(py)),
        error(py, record.error.as_ref())?,
        record.attempts.into_pyobject(py)?.into_any(),
        record.enqueued_ms.into_pyobject(py)?.into_any(),
        record.started_ms.into_pyobject(py)?.into_any(),
        record.finished_ms.into_pyobject(py)?.into_any(),
        record.worker_id.as_str().into_pyobject(py)?.into_any(),
        record.task.as_str().into_pyobject(py)?.into_any(),
        match &record.progress {
            Some(p) => (p.fraction, p.message.as_str(), p.updated_ms)
                .into_pyobject(py)?
                .into_any(),
            None => py.None().into_bound(py),
        },
    ];
    Ok(PyTuple::new(py, items)?.into_any())
}

/// `ardiq.inspect.JobDetails` fields: `(status name, status record fields
/// or None, job record fields or None, due_ms, worker_id)`.
pub fn job_details(py: Python<'_>, details: JobDetails) -> PyResult<Py<PyAny>> {
    let items: Vec<Bound<'_, PyAny>> = vec![
        details.status.as_str().into_pyobject(py)?.into_any(),
        status(py, details.record.as_ref())?,
        job(py, details.job.as_ref())?,
        details.due_ms.into_pyobject(py)?.into_any(),
        details.worker_id.into_pyobject(py)?.into_any(),
    ];
    Ok(PyTuple::new(py, items)?.into_any().unbind())
}

/// A list of `ardiq.inspect.Failure` fields: `(entry_id, job_id, task,
/// job record fields, error, attempts, started_ms, failed_ms, worker_id)`.
pub fn failures(py: Python<'_>, failures: Vec<KeptFailure>) -> PyResult<Py<PyAny>> {
    let list = PyList::empty(py);
    for failure in failures {
        let record = failure.record;
        let decoded = <Job as prost::Message>::decode(record.job.as_slice()).ok();
        let items: Vec<Bound<'_, PyAny>> = vec![
            failure.entry_id.into_pyobject(py)?.into_any(),
            record.job_id.into_pyobject(py)?.into_any(),
            record.task.into_pyobject(py)?.into_any(),
            job(py, decoded.as_ref())?,
            error(py, record.error.as_ref())?,
            record.attempts.into_pyobject(py)?.into_any(),
            record.started_ms.into_pyobject(py)?.into_any(),
            record.failed_ms.into_pyobject(py)?.into_any(),
            record.worker_id.into_pyobject(py)?.into_any(),
        ];
        list.append(PyTuple::new(py, items)?)?;
    }
    Ok(list.into_any().unbind())
}
