//! The typed things that cross the GIL boundary besides user values: the
//! validated configuration of a task and of a worker run (each option is
//! checked here, once, with an error that names it), the cron schedules
//! (parsed and checked when they are registered), the outcome and cancel
//! codes, and the Python records (`ardiq.job.JobInfo`, `DeadLetter`) built
//! straight from what Redis returned.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ardiq_client::{DeadLetter as DeadLetterEntry, JobInfo as JobInfoRecord, ScheduleState};
use ardiq_spec::limits::{InvalidJob, MAX_DURATION_MS, MAX_RETRIES};
use ardiq_spec::{Error as WireError, State};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;

use super::convert;
use super::errors::InvalidSchedule;
use super::items::item_from;
use crate::engine::{
    CatchUp, Schedule, TaskConfig as EngineTask, Timing, WorkerConfig as EngineWorker,
    AUTO_PREFETCH_MAX, MAX_QUEUES, MAX_SCHEDULE_NAME_BYTES,
};
use crate::error::CoreError;

/// Outcome code: the run returned; the payload is the value.
pub const OUTCOME_COMPLETE: u8 = 0;
/// Outcome code: the run raised; the payload is `(type, message,
/// traceback, retry_delay_ms or None, retryable)`.
pub const OUTCOME_FAILED: u8 = 1;
/// Outcome code: the run was cancelled by an abort.
pub const OUTCOME_ABORTED: u8 = 2;
/// Outcome code: the run did not finish at shutdown; hand the job back.
pub const OUTCOME_INTERRUPTED: u8 = 3;

fn invalid(message: String) -> PyErr {
    PyValueError::new_err(message)
}

fn ms_of(name: &str, seconds: f64, allow_zero: bool) -> PyResult<u64> {
    let ms = seconds * 1000.0;
    let low_ok = if allow_zero { ms >= 0.0 } else { ms > 0.0 };
    if !low_ok || !ms.is_finite() || ms > MAX_DURATION_MS as f64 {
        let lowest = if allow_zero { "0" } else { "more than 0" };
        return Err(invalid(format!(
            "{name} must be {lowest} to {} seconds, not {seconds}",
            MAX_DURATION_MS / 1000
        )));
    }
    // A positive time limit never rounds down to "none".
    Ok((ms.round() as u64).max(u64::from(!allow_zero)))
}

fn within(name: &str, value: i64, low: i64, high: i64) -> PyResult<u64> {
    if (low..=high).contains(&value) {
        Ok(value as u64)
    } else {
        Err(invalid(format!(
            "{name} must be an int from {low} to {high}, not {value}"
        )))
    }
}

/// A registered task's settings, checked when the task is registered.
#[pyclass(module = "ardiq._core", frozen, get_all)]
#[derive(Debug, Clone)]
pub struct TaskConfig {
    /// The task name.
    pub name: String,
    /// Retries after the first run.
    pub retries: u32,
    /// Base retry backoff, ms.
    pub backoff_ms: u64,
    /// Time limit of a run, ms; `None` for none.
    pub timeout_ms: Option<u64>,
    /// How long results are kept, ms; `None` for the app's default.
    pub result_ttl_ms: Option<u64>,
    /// The queue its jobs go to; `None` for the app's.
    pub queue: Option<String>,
}

#[pymethods]
impl TaskConfig {
    #[new]
    #[pyo3(signature = (name, *, retries, backoff_ms, timeout_s, result_ttl_s, queue = None))]
    fn new(
        name: String,
        retries: i64,
        backoff_ms: i64,
        timeout_s: Option<f64>,
        result_ttl_s: Option<f64>,
        queue: Option<String>,
    ) -> PyResult<Self> {
        if let Some(queue) = &queue {
            ardiq_spec::limits::check_queue_name(queue).map_err(CoreError::from)?;
        }
        ardiq_spec::limits::check_task_name(&name)
            .map_err(|e| invalid(format!("task name: {e}")))?;
        let named = |option: &str| format!("task {name}: {option}");
        Ok(Self {
            retries: within(&named("retries"), retries, 0, MAX_RETRIES)? as u32,
            backoff_ms: within(&named("backoff_ms"), backoff_ms, 0, MAX_DURATION_MS)?,
            timeout_ms: timeout_s
                .map(|s| ms_of(&named("timeout_s"), s, false))
                .transpose()?,
            result_ttl_ms: result_ttl_s
                .map(|s| ms_of(&named("result_ttl_s"), s, true))
                .transpose()?,
            queue,
            name,
        })
    }
}

/// A cron schedule and the job of each of its ticks, checked when it is
/// registered: every error a tick could meet is raised here.
#[pyclass(module = "ardiq._core", frozen)]
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    schedule: Arc<Schedule>,
}

#[pymethods]
impl ScheduleConfig {
    #[new]
    #[allow(clippy::needless_pass_by_value)]
    #[pyo3(signature = (name, job, *, queue, cron = None, every_ms = None, timezone = None, catch_up = "latest"))]
    fn new(
        name: String,
        job: &Bound<'_, PyTuple>,
        queue: String,
        cron: Option<String>,
        every_ms: Option<i64>,
        timezone: Option<String>,
        catch_up: &str,
    ) -> PyResult<Self> {
        let bad =
            |message: String| InvalidSchedule::new_err(format!("schedule {name:?}: {message}"));
        let (timing, catch_up) =
            timing_of(cron, every_ms, timezone.as_deref(), catch_up).map_err(bad)?;
        let request = item_from(job)?;
        // An expiry is a moment: every tick after it would fail to enqueue.
        if request.delay_ms.is_some()
            || request.schedule_ms.is_some()
            || request.job_id.is_some()
            || request.expires_ms.is_some()
        {
            return Err(bad(
                "a tick's job runs at its tick, with the id cron:<name>:<tick_ms>: prepare it without delay_ms, schedule_ms, job_id or expires_ms"
                    .to_owned(),
            ));
        }
        let schedule = Schedule::new(name.clone(), queue, timing, catch_up, request).map_err(
            |err| match err {
                InvalidJob::JobId(_) => bad(format!(
                    "a schedule name is 1 to {MAX_SCHEDULE_NAME_BYTES} bytes of UTF-8 without white space"
                )),
                other => PyErr::from(CoreError::from(other)),
            },
        )?;
        Ok(Self {
            schedule: Arc::new(schedule),
        })
    }

    /// Checks a schedule's expression (or interval), time zone and catch-up
    /// policy alone, before its job is known.
    #[staticmethod]
    #[pyo3(signature = (*, cron = None, every_ms = None, timezone = None, catch_up = "latest"))]
    fn check_timing(
        cron: Option<String>,
        every_ms: Option<i64>,
        timezone: Option<&str>,
        catch_up: &str,
    ) -> PyResult<()> {
        timing_of(cron, every_ms, timezone, catch_up).map_err(InvalidSchedule::new_err)?;
        Ok(())
    }

    /// The schedule's name, unique in its queue.
    #[getter]
    fn name(&self) -> &str {
        &self.schedule.name
    }

    /// The task each tick runs.
    #[getter]
    fn task(&self) -> &str {
        &self.schedule.job.task
    }

    /// The queue its jobs go to.
    #[getter]
    fn queue(&self) -> &str {
        &self.schedule.queue
    }

    /// The cron expression, `None` for an interval.
    #[getter]
    fn cron(&self) -> Option<&str> {
        match &self.schedule.timing {
            Timing::Cron { expression, .. } => Some(expression),
            Timing::Every { .. } => None,
        }
    }

    /// The IANA time zone of a cron expression, `None` for an interval.
    #[getter]
    fn timezone(&self) -> Option<&str> {
        match &self.schedule.timing {
            Timing::Cron { zone_name, .. } => Some(zone_name.as_str()),
            Timing::Every { .. } => None,
        }
    }

    /// The interval, ms, `None` for a cron expression.
    #[getter]
    fn every_ms(&self) -> Option<i64> {
        match &self.schedule.timing {
            Timing::Every { interval_ms } => Some(*interval_ms),
            Timing::Cron { .. } => None,
        }
    }

    /// `latest`, `skip` or `all`.
    #[getter]
    fn catch_up(&self) -> &'static str {
        self.schedule.catch_up.as_str()
    }

    /// The next `count` ticks strictly after `after_ms`, ms since the epoch.
    fn next_ticks(&self, after_ms: i64, count: usize) -> Vec<i64> {
        let mut ticks = Vec::with_capacity(count.min(1000));
        let mut cursor = after_ms;
        while ticks.len() < count {
            let Some(tick) = self.schedule.timing.next_after(cursor) else {
                break;
            };
            ticks.push(tick);
            cursor = tick;
        }
        ticks
    }

    /// The latest tick at or before `at_ms`.
    fn latest_tick(&self, at_ms: i64) -> Option<i64> {
        self.schedule.timing.latest_at_or_before(at_ms)
    }

    /// The job id of the tick at `tick_ms`.
    fn job_id(&self, tick_ms: i64) -> String {
        self.schedule.job_id(tick_ms)
    }
}

fn timing_of(
    cron: Option<String>,
    every_ms: Option<i64>,
    timezone: Option<&str>,
    catch_up: &str,
) -> Result<(Timing, CatchUp), String> {
    let timing = match (cron, every_ms) {
        (Some(expression), None) => Timing::cron(&expression, timezone.unwrap_or("UTC"))?,
        (None, Some(_)) if timezone.is_some() => {
            return Err(
                "a time zone is for cron expressions: an interval ticks at the same instants everywhere"
                    .to_owned(),
            )
        }
        (None, Some(interval_ms)) => Timing::every(interval_ms)?,
        _ => return Err("give either a cron expression or an interval (every=)".to_owned()),
    };
    Ok((timing, CatchUp::parse(catch_up)?))
}

/// The settings of one worker run, checked when it is made.
#[pyclass(module = "ardiq._core", frozen)]
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub(super) engine: EngineWorker,
    /// `(queue, weight)` of every queue the run consumes.
    pub(super) queues: Vec<(String, u32)>,
}

#[pymethods]
impl WorkerConfig {
    #[new]
    #[pyo3(signature = (
        *, worker_id, hostname, queues, tasks, result_ttl_s, concurrency, prefetch, burst,
        visibility_ms, max_deliveries, block_ms, promote_interval_ms, heartbeat_ms, dead_maxlen,
        burst_waits_delayed = false, failed_maxlen = 10_000, failed_retention_ms = 604_800_000,
        metrics = false, schedules = Vec::new(), progress_interval_ms = 250, journal_maxlen = 0
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        worker_id: String,
        hostname: String,
        queues: Vec<(String, i64)>,
        tasks: Vec<TaskConfig>,
        result_ttl_s: f64,
        concurrency: i64,
        prefetch: Option<i64>,
        burst: bool,
        visibility_ms: i64,
        max_deliveries: i64,
        block_ms: i64,
        promote_interval_ms: i64,
        heartbeat_ms: i64,
        dead_maxlen: i64,
        burst_waits_delayed: bool,
        failed_maxlen: i64,
        failed_retention_ms: i64,
        metrics: bool,
        schedules: Vec<ScheduleConfig>,
        progress_interval_ms: i64,
        journal_maxlen: i64,
    ) -> PyResult<Self> {
        let concurrency = within("concurrency", concurrency, 1, 100_000)? as usize;
        if queues.is_empty() || queues.len() > MAX_QUEUES {
            return Err(invalid(format!(
                "a worker consumes 1 to {MAX_QUEUES} queues, not {}",
                queues.len()
            )));
        }
        let mut seen = HashSet::new();
        let mut weighted = Vec::with_capacity(queues.len());
        for (queue, weight) in queues {
            ardiq_spec::limits::check_queue_name(&queue).map_err(|e| invalid(e.to_string()))?;
            if !seen.insert(queue.clone()) {
                return Err(invalid(format!("queue {queue:?} is named twice")));
            }
            let weight = within(&format!("the weight of queue {queue:?}"), weight, 1, 1_000)?;
            weighted.push((queue, weight as u32));
        }
        let mut names = HashSet::new();
        for ScheduleConfig { schedule } in &schedules {
            if !tasks.iter().any(|t| t.name == schedule.job.task) {
                return Err(invalid(format!(
                    "schedule {:?}: no task named {:?} is registered",
                    schedule.name, schedule.job.task
                )));
            }
            if !names.insert((&schedule.queue, &schedule.name)) {
                return Err(invalid(format!(
                    "schedule {:?} is named twice on queue {:?}",
                    schedule.name, schedule.queue
                )));
            }
        }
        let schedules: Vec<Arc<Schedule>> = schedules.into_iter().map(|s| s.schedule).collect();
        let default_ttl_ms = ms_of("result_ttl_s", result_ttl_s, true)?;
        let tasks: HashMap<String, EngineTask> = tasks
            .into_iter()
            .map(|task| {
                let config = EngineTask {
                    retries: task.retries,
                    backoff_ms: task.backoff_ms,
                    timeout_ms: task.timeout_ms,
                    result_ttl_ms: task.result_ttl_ms.unwrap_or(default_ttl_ms),
                };
                (task.name, config)
            })
            .collect();
        let day_ms = 86_400_000;
        Ok(Self {
            engine: EngineWorker {
                worker_id,
                concurrency,
                prefetch: match prefetch {
                    Some(n) => within("prefetch", n, 0, 100_000)? as usize,
                    None => concurrency,
                },
                // A prefetch the caller chose stays as chosen.
                prefetch_max: if prefetch.is_some() {
                    0
                } else {
                    AUTO_PREFETCH_MAX
                },
                burst,
                burst_waits_delayed,
                visibility_ms: within("visibility_ms", visibility_ms, 100, day_ms)?,
                max_deliveries: within("max_deliveries", max_deliveries, 1, 1_000)?,
                block_ms: within("block_ms", block_ms, 1, 60_000)?,
                promote_interval_ms: within(
                    "promote_interval_ms",
                    promote_interval_ms,
                    10,
                    60_000,
                )?,
                heartbeat_ms: within("heartbeat_ms", heartbeat_ms, 100, 60_000)?,
                progress_interval_ms: within(
                    "progress_interval_ms",
                    progress_interval_ms,
                    10,
                    60_000,
                )?,
                journal_maxlen: within("journal_maxlen", journal_maxlen, 0, 100_000_000)?,
                tasks,
                dead_maxlen: within("dead_maxlen", dead_maxlen, 1, 100_000_000)?,
                failed_maxlen: within("failed_maxlen", failed_maxlen, 0, 100_000_000)?,
                failed_retention_ms: within(
                    "failed_retention_ms",
                    failed_retention_ms,
                    1_000,
                    MAX_DURATION_MS,
                )?,
                metrics,
                hostname,
                pid: std::process::id(),
                schedules,
            },
            queues: weighted,
        })
    }

    /// The consumer name of the run.
    #[getter]
    fn worker_id(&self) -> &str {
        &self.engine.worker_id
    }

    /// Most jobs running at once, over every queue.
    #[getter]
    fn concurrency(&self) -> usize {
        self.engine.concurrency
    }

    /// The queues the run consumes, in order.
    #[getter]
    fn queues(&self) -> Vec<String> {
        self.queues.iter().map(|(q, _)| q.clone()).collect()
    }
}

/// The Python classes that records become, from `ardiq.job`.
struct Records {
    schedule_state: Py<PyAny>,
    job_info: Py<PyAny>,
    job_status: Py<PyAny>,
    dead_letter: Py<PyAny>,
    remote_error: Py<PyAny>,
    progress: Py<PyAny>,
}

static RECORDS: PyOnceLock<Records> = PyOnceLock::new();

fn records(py: Python<'_>) -> PyResult<&Records> {
    RECORDS.get_or_try_init(py, || {
        let module = py.import("ardiq.job")?;
        Ok(Records {
            schedule_state: py.import("ardiq.cron")?.getattr("ScheduleState")?.unbind(),
            job_info: module.getattr("JobInfo")?.unbind(),
            job_status: module.getattr("JobStatus")?.unbind(),
            dead_letter: module.getattr("DeadLetter")?.unbind(),
            remote_error: module.getattr("RemoteError")?.unbind(),
            progress: module.getattr("Progress")?.unbind(),
        })
    })
}

fn remote_error<'py>(py: Python<'py>, error: Option<&WireError>) -> PyResult<Bound<'py, PyAny>> {
    match error {
        Some(e) => records(py)?.remote_error.bind(py).call1((
            e.r#type.as_str(),
            e.message.as_str(),
            e.traceback.as_str(),
        )),
        None => Ok(py.None().into_bound(py)),
    }
}

/// An `ardiq.job.JobInfo`: the state, and for a terminal job its value or
/// error, attempts, times and worker.
pub fn job_info(py: Python<'_>, info: JobInfoRecord) -> PyResult<Py<PyAny>> {
    let records = records(py)?;
    let status = records.job_status.bind(py).call1((info.status.as_str(),))?;
    let record = info.record.unwrap_or_default();
    let terminal = State::try_from(record.state).is_ok_and(State::is_terminal);
    let value = if !terminal || record.value.is_empty() {
        py.None()
    } else {
        let value = ardiq_spec::value::decode(&record.value)
            .map_err(|e| CoreError::Malformed(format!("the result does not decode: {e}")))?;
        convert::to_python(py, &value)?
    };
    let error = if terminal {
        remote_error(py, record.error.as_ref())?
    } else {
        py.None().into_bound(py)
    };
    let progress = match &record.progress {
        Some(p) => {
            records
                .progress
                .bind(py)
                .call1((p.fraction, p.message.as_str(), p.updated_ms))?
        }
        None => py.None().into_bound(py),
    };
    let args = PyTuple::new(
        py,
        [
            status,
            value.into_bound(py),
            error,
            record.attempts.into_pyobject(py)?.into_any(),
            record.enqueued_ms.into_pyobject(py)?.into_any(),
            record.started_ms.into_pyobject(py)?.into_any(),
            record.finished_ms.into_pyobject(py)?.into_any(),
            record.worker_id.into_pyobject(py)?.into_any(),
            progress,
        ],
    )?;
    Ok(records.job_info.bind(py).call1(args)?.unbind())
}

/// An `ardiq.job.DeadLetter`.
pub fn dead_letter(py: Python<'_>, letter: DeadLetterEntry) -> PyResult<Py<PyAny>> {
    let records = records(py)?;
    let record = letter.record;
    let error = remote_error(py, record.error.as_ref())?;
    Ok(records
        .dead_letter
        .bind(py)
        .call1((
            letter.entry_id,
            record.job_id,
            record.task,
            record.reason,
            record.detail,
            record.dead_ms,
            error,
        ))?
        .unbind())
}

/// An `ardiq.cron.ScheduleState`.
pub fn schedule_state(py: Python<'_>, state: ScheduleState) -> PyResult<Py<PyAny>> {
    Ok(records(py)?
        .schedule_state
        .bind(py)
        .call1((
            state.name,
            state.task,
            state.cron,
            state.timezone,
            state.every_ms,
            state.catch_up,
            state.last_ms,
            state.next_ms,
            state.since_ms,
            state.registered_ms,
        ))?
        .unbind())
}
