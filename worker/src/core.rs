//! `ardiq._core.Core`: the Python-facing object. Every method returns at
//! once: work that touches Redis is spawned on the tokio runtime with the
//! request id Python chose, and its reply comes back through the bridge.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ardiq_client::connection::ConnectOptions;
use ardiq_spec::enqueue::{self as build, JobRequest};
use ardiq_spec::limits::{self, InvalidJob, MAX_DURATION_MS, MAX_RETRIES};
use ardiq_spec::Error as WireError;
use futures::FutureExt;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyList, PyString, PyTuple};
use tokio::runtime::Runtime;
use tokio::sync::OnceCell;

use crate::bridge::{Bridge, EnqueueOutcome, ReplyValue};
use crate::conn::{Conn, Target};
use crate::convert;
use crate::engine::{self, Engine, Outcome, TaskConfig, WorkerConfig};
use crate::error::CoreError;
use crate::producer::Producer;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static LINGER: OnceLock<Duration> = OnceLock::new();
/// Bumped by every reply; only the newest reply's task lingers.
static LINGER_TURN: AtomicU64 = AtomicU64::new(0);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// After answering a request the runtime thread keeps polling for a while
/// (`ARDIQ_LINGER_US`, default 200 µs; 0 turns it off) instead of going to
/// sleep at once. An awaited request that follows within that window then
/// wakes no sleeping thread on its way to Redis and back: on virtual
/// machines each such wake-up costs tens of µs, so back-to-back awaited
/// calls (`await task.enqueue(...)` in a loop, `Job.result` polling) run
/// about twice as fast. The price is at most that window of one core's time
/// per burst of requests; an idle process never polls.
async fn linger() {
    let window = *LINGER.get_or_init(|| Duration::from_micros(env_number("ARDIQ_LINGER_US", 200)));
    if window.is_zero() {
        return;
    }
    let turn = LINGER_TURN.fetch_add(1, Ordering::AcqRel) + 1;
    let until = Instant::now() + window;
    // Each yield lets the scheduler poll its I/O driver and the queue of
    // tasks spawned from Python, without parking the thread.
    while Instant::now() < until && LINGER_TURN.load(Ordering::Acquire) == turn {
        tokio::task::yield_now().await;
    }
}

/// The process-wide tokio runtime, on its own threads (`ARDIQ_RUNTIME_THREADS`,
/// default 1).
fn runtime(py: Python<'_>) -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        let threads = usize::try_from(env_number("ARDIQ_RUNTIME_THREADS", 1)).unwrap_or(1);
        // Built with the GIL released: its threads never need it.
        py.detach(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("ardiq-core")
                .enable_all()
                .build()
                .expect("tokio runtime")
        })
    })
}

/// The native core of one `Ardiq` app: producer operations and at most one
/// worker run at a time.
#[pyclass(module = "ardiq._core", frozen)]
#[derive(Debug)]
pub struct Core {
    target: Target,
    queue: String,
    bridge: Arc<Bridge>,
    producer: Arc<Producer>,
    conn: Arc<OnceCell<Conn>>,
    engine: Arc<Mutex<EngineSlot>>,
}

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

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".into(), |n| n.to_string())
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

/// Reads one enqueue item tuple: `(task, args, kwargs, priority, delay_ms,
/// schedule_ms, job_id, max_retries, timeout_ms, backoff_ms, result_ttl_ms)`.
fn item_from(tuple: &Bound<'_, PyTuple>) -> Result<JobRequest, CoreError> {
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
    })
}

fn error_tuple(py: Python<'_>, error: Option<&(String, String, String)>) -> PyResult<Py<PyAny>> {
    Ok(match error {
        Some((kind, message, traceback)) => (kind, message, traceback)
            .into_pyobject(py)?
            .into_any()
            .unbind(),
        None => py.None(),
    })
}

fn reply_to_python(py: Python<'_>, reply: ReplyValue) -> PyResult<Py<PyAny>> {
    Ok(match reply {
        ReplyValue::Enqueued(outcomes) => {
            let names: Vec<&str> = outcomes
                .iter()
                .map(|o| match o {
                    EnqueueOutcome::Queued => "queued",
                    EnqueueOutcome::Scheduled => "scheduled",
                    EnqueueOutcome::Duplicate => "duplicate",
                })
                .collect();
            PyList::new(py, names)?.into_any().unbind()
        }
        ReplyValue::Status(info) => {
            let value = match &info.value {
                Some(value) => convert::to_python(py, value)?,
                None => py.None(),
            };
            let error = error_tuple(py, info.error.as_ref())?;
            (
                info.state,
                value,
                error,
                info.attempts,
                info.times.0,
                info.times.1,
                info.times.2,
                info.worker_id,
            )
                .into_pyobject(py)?
                .into_any()
                .unbind()
        }
        ReplyValue::Abort(reply) => PyString::new(py, &reply).into_any().unbind(),
        ReplyValue::DeadLetters(letters) => {
            let list = PyList::empty(py);
            for letter in letters {
                let error = error_tuple(py, letter.error.as_ref())?;
                list.append((
                    letter.entry_id,
                    letter.job_id,
                    letter.task,
                    letter.reason,
                    letter.detail,
                    letter.dead_ms,
                    error,
                ))?;
            }
            list.into_any().unbind()
        }
        ReplyValue::Replayed(id) => id.into_pyobject(py)?.into_any().unbind(),
        ReplyValue::Count(n) => n.into_pyobject(py)?.into_any().unbind(),
        ReplyValue::Unit => py.None(),
    })
}

fn config_get<'py, T>(config: &Bound<'py, PyDict>, key: &str) -> PyResult<T>
where
    T: for<'a> FromPyObject<'a, 'py, Error = PyErr>,
{
    config
        .get_item(key)?
        .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(key.to_owned()))?
        .extract()
}

impl Core {
    fn spawn_request<F>(&self, py: Python<'_>, request: u64, work: F)
    where
        F: FnOnce(Conn, Arc<Producer>) -> reply_future::BoxedReply + Send + 'static,
    {
        let bridge = Arc::clone(&self.bridge);
        let cell = Arc::clone(&self.conn);
        let target = self.target.clone();
        let producer = Arc::clone(&self.producer);
        runtime(py).spawn(async move {
            let handled = AssertUnwindSafe(async {
                match cell
                    .get_or_try_init(|| target.connect(Duration::ZERO))
                    .await
                {
                    Ok(conn) => work(conn.clone(), producer).await,
                    Err(err) => Err(CoreError::from(err)),
                }
            })
            .catch_unwind()
            .await;
            // A panic below (a bug, or a library's) fails this request
            // instead of leaving its caller waiting forever.
            let reply = handled.unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(ToString::to_string)
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(CoreError::Internal(format!("request failed: {what}")))
            });
            bridge.reply(request, reply);
            linger().await;
        });
    }
}

/// The worker run of a core, if any.
#[derive(Debug)]
enum EngineSlot {
    Idle,
    /// Connecting; the flag is set when a stop comes first.
    Starting(Arc<AtomicBool>),
    Running(Arc<Engine>),
}

/// How long a starting worker waits for Redis to answer.
const START_PATIENCE: Duration = Duration::from_secs(60);

/// Connects for a starting worker: while Redis is unreachable (a restart, a
/// worker started before its Redis), tries again with backoff for up to a
/// minute, saying so in the log, instead of exiting at once. Other errors
/// (credentials, configuration) and a stop end it at once.
async fn connect_patiently(
    target: &Target,
    extra: Duration,
    bridge: &Bridge,
    cancelled: &AtomicBool,
) -> Result<Conn, CoreError> {
    let began = Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        let err = match target.connect(extra).await {
            Ok(conn) => return Ok(conn),
            Err(err) => CoreError::from(err),
        };
        if !matches!(err, CoreError::Unreachable(_)) || began.elapsed() > START_PATIENCE {
            return Err(err);
        }
        if cancelled.load(Ordering::Acquire) {
            return Err(CoreError::Unreachable(format!(
                "stopped before Redis answered: {err}"
            )));
        }
        bridge.log(
            30,
            format!("{err}; trying again in {} ms", pause.as_millis()),
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

impl Core {
    fn running_engine(&self) -> Option<Arc<Engine>> {
        match &*self.engine.lock().expect("engine") {
            EngineSlot::Running(engine) => Some(Arc::clone(engine)),
            _ => None,
        }
    }
}

/// Boxed future types for request handlers.
mod reply_future {
    use std::future::Future;
    use std::pin::Pin;

    use crate::bridge::ReplyValue;
    use crate::error::CoreError;

    /// The future a request handler returns.
    pub type BoxedReply = Pin<Box<dyn Future<Output = Result<ReplyValue, CoreError>> + Send>>;
}

// PyO3 hands arguments over by value.
#[allow(clippy::needless_pass_by_value)]
#[pymethods]
impl Core {
    #[new]
    #[pyo3(signature = (url, queue, cluster = false, ssl_ca_certs = None, connect_timeout_ms = 2000, timeout_ms = 5000))]
    fn new(
        url: String,
        queue: String,
        cluster: bool,
        ssl_ca_certs: Option<std::path::PathBuf>,
        connect_timeout_ms: u64,
        timeout_ms: u64,
    ) -> PyResult<Self> {
        limits::check_queue_name(&queue).map_err(CoreError::from)?;
        if connect_timeout_ms == 0 || timeout_ms == 0 {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "connect and command timeouts must be positive",
            ));
        }
        let ca_pem = match ssl_ca_certs {
            Some(path) => Some(std::fs::read(&path).map_err(|e| {
                pyo3::exceptions::PyValueError::new_err(format!(
                    "cannot read the CA file {}: {e}",
                    path.display()
                ))
            })?),
            None => None,
        };
        let target = Target {
            url,
            options: ConnectOptions {
                connect_timeout: Duration::from_millis(connect_timeout_ms),
                command_timeout: Duration::from_millis(timeout_ms),
                ca_pem,
                cluster: Some(cluster),
            },
        };
        target.check().map_err(|e| {
            pyo3::exceptions::PyValueError::new_err(format!("invalid Redis URL or CA file: {e}"))
        })?;
        Ok(Self {
            target,
            producer: Arc::new(Producer::new(&queue)),
            queue,
            bridge: Arc::new(Bridge::new()?),
            conn: Arc::new(OnceCell::new()),
            engine: Arc::new(Mutex::new(EngineSlot::Idle)),
        })
    }

    /// The file descriptor to watch for readiness.
    fn fileno(&self) -> i32 {
        self.bridge.fileno()
    }

    /// The queue name.
    #[getter]
    fn queue(&self) -> &str {
        &self.queue
    }

    /// Everything ready: `(replies, jobs, cancels, logs, exited, exit_error)`.
    #[allow(clippy::type_complexity)]
    fn drain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let ready = self.bridge.take();
        let replies = PyList::empty(py);
        for (request, reply) in ready.replies {
            match reply {
                Ok(value) => replies.append((request, true, reply_to_python(py, value)?))?,
                Err(err) => replies.append((request, false, PyErr::from(err).into_value(py)))?,
            }
        }
        let jobs = PyList::empty(py);
        for job in ready.jobs {
            let args = PyList::empty(py);
            for arg in &job.args {
                args.append(convert::to_python(py, arg)?)?;
            }
            let kwargs = PyDict::new(py);
            for (key, value) in &job.kwargs {
                kwargs.set_item(key, convert::to_python(py, value)?)?;
            }
            let timeout_s = job.timeout_ms.map(|ms| ms as f64 / 1000.0);
            jobs.append((
                job.handle,
                job.task,
                args.to_tuple(),
                kwargs,
                job.job_id,
                job.attempt,
                timeout_s,
            ))?;
        }
        let cancels: Vec<(u64, u8)> = ready
            .cancels
            .into_iter()
            .map(|(h, r)| (h, r as u8))
            .collect();
        let exited = ready.worker_exit.is_some();
        let exit_error = ready.worker_exit.flatten();
        if exited {
            *self.engine.lock().expect("engine") = EngineSlot::Idle;
        }
        (replies, jobs, cancels, ready.logs, exited, exit_error).into_pyobject(py)
    }

    /// Validates every job now (raising typed errors before anything is
    /// sent), then enqueues them; returns their ids at once.
    fn enqueue(
        &self,
        py: Python<'_>,
        request: u64,
        items: Vec<Bound<'_, PyTuple>>,
    ) -> PyResult<Vec<String>> {
        let now = engine::now_ms();
        let mut jobs = Vec::with_capacity(items.len());
        for tuple in &items {
            jobs.push(item_from(tuple)?.check(now).map_err(CoreError::from)?);
        }
        let ids = jobs.iter().map(|j| j.id.clone()).collect();
        self.spawn_request(py, request, move |mut conn, producer| {
            Box::pin(async move {
                producer
                    .enqueue(&mut conn, jobs)
                    .await
                    .map(ReplyValue::Enqueued)
            })
        });
        Ok(ids)
    }

    /// Reads a job's status.
    fn status(&self, py: Python<'_>, request: u64, job_id: String) {
        self.spawn_request(py, request, move |mut conn, producer| {
            Box::pin(async move {
                producer
                    .status(&mut conn, &job_id)
                    .await
                    .map(ReplyValue::Status)
            })
        });
    }

    /// Aborts a job.
    fn abort(&self, py: Python<'_>, request: u64, job_id: String) {
        self.spawn_request(py, request, move |mut conn, producer| {
            Box::pin(async move {
                producer
                    .abort(&mut conn, &job_id, engine::now_ms())
                    .await
                    .map(ReplyValue::Abort)
            })
        });
    }

    /// Lists dead letters.
    fn dead_letters(&self, py: Python<'_>, request: u64, count: usize) {
        self.spawn_request(py, request, move |mut conn, producer| {
            Box::pin(async move {
                producer
                    .dead_letters(&mut conn, count)
                    .await
                    .map(ReplyValue::DeadLetters)
            })
        });
    }

    /// Replays one dead letter.
    fn replay_dead(&self, py: Python<'_>, request: u64, entry_id: String) {
        self.spawn_request(py, request, move |mut conn, producer| {
            Box::pin(async move {
                producer
                    .replay(&mut conn, &entry_id)
                    .await
                    .map(ReplyValue::Replayed)
            })
        });
    }

    /// Deletes dead letters.
    fn delete_dead(&self, py: Python<'_>, request: u64, entry_ids: Vec<String>) {
        self.spawn_request(py, request, move |mut conn, producer| {
            Box::pin(async move {
                producer
                    .delete_dead(&mut conn, &entry_ids)
                    .await
                    .map(ReplyValue::Count)
            })
        });
    }

    /// Connects (once) and checks the server answers.
    fn ping(&self, py: Python<'_>, request: u64) {
        self.spawn_request(py, request, move |mut conn, _| {
            Box::pin(async move {
                redis::cmd("PING").query_async::<()>(&mut conn).await?;
                Ok(ReplyValue::Unit)
            })
        });
    }

    /// Starts a worker run with `config` (a dict, see `ardiq.worker`).
    fn start_worker(
        &self,
        py: Python<'_>,
        request: u64,
        config: &Bound<'_, PyDict>,
    ) -> PyResult<()> {
        let tasks_obj = config
            .get_item("tasks")?
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err("tasks"))?
            .cast_into::<PyDict>()?;
        let mut tasks = HashMap::new();
        for (name, spec) in tasks_obj.iter() {
            let (retries, backoff_ms, timeout_ms, result_ttl_ms): (u32, u64, Option<u64>, u64) =
                spec.extract()?;
            tasks.insert(
                name.extract::<String>()?,
                TaskConfig {
                    retries,
                    backoff_ms,
                    timeout_ms,
                    result_ttl_ms,
                },
            );
        }
        let worker = WorkerConfig {
            worker_id: config_get(config, "worker_id")?,
            concurrency: config_get::<usize>(config, "concurrency")?.max(1),
            prefetch: config_get(config, "prefetch")?,
            burst: config_get(config, "burst")?,
            visibility_ms: config_get::<u64>(config, "visibility_ms")?.max(100),
            max_deliveries: config_get(config, "max_deliveries")?,
            block_ms: config_get(config, "block_ms")?,
            promote_interval_ms: config_get::<u64>(config, "promote_interval_ms")?.max(10),
            heartbeat_ms: config_get::<u64>(config, "heartbeat_ms")?.max(100),
            tasks,
            dead_maxlen: config_get(config, "dead_maxlen")?,
            hostname: config_get(config, "hostname")?,
            pid: std::process::id(),
        };
        let cancelled = Arc::new(AtomicBool::new(false));
        {
            let mut slot = self.engine.lock().expect("engine");
            if !matches!(*slot, EngineSlot::Idle) {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "a worker is already running",
                ));
            }
            *slot = EngineSlot::Starting(Arc::clone(&cancelled));
        }
        let bridge = Arc::clone(&self.bridge);
        let target = self.target.clone();
        let queue = self.queue.clone();
        let slot = Arc::clone(&self.engine);
        let block = Duration::from_millis(worker.block_ms);
        runtime(py).spawn(async move {
            let started = async {
                let conn = connect_patiently(&target, Duration::ZERO, &bridge, &cancelled).await?;
                let reader = connect_patiently(&target, block, &bridge, &cancelled).await?;
                Engine::start(worker, &queue, Arc::clone(&bridge), conn, reader).await
            }
            .await;
            let mut slot = slot.lock().expect("engine");
            match started {
                Ok(engine) => {
                    if cancelled.load(Ordering::Acquire) {
                        engine.request_stop();
                    }
                    *slot = EngineSlot::Running(engine);
                    bridge.reply(request, Ok(ReplyValue::Unit));
                }
                Err(err) => {
                    *slot = EngineSlot::Idle;
                    bridge.reply(request, Err(err));
                }
            }
        });
        Ok(())
    }

    /// Reports finished runs: `(handle, kind, payload)` with kind 0 complete
    /// (payload: the value), 1 failed (payload: `(type, message, traceback,
    /// retry_delay_ms or None, retryable)`), 2 aborted, 3 interrupted.
    fn report(&self, outcomes: Vec<(u64, u8, Bound<'_, PyAny>)>) -> PyResult<()> {
        let Some(engine) = self.running_engine() else {
            return Ok(());
        };
        let mut converted = Vec::with_capacity(outcomes.len());
        for (handle, kind, payload) in outcomes {
            let outcome = match kind {
                0 => {
                    let mut out = Vec::new();
                    match convert::encode(&payload, &mut out, &mut "result".to_owned()) {
                        Ok(()) => Outcome::Complete(out),
                        Err(err) => Outcome::Failed {
                            error: WireError {
                                r#type: "UnsupportedValue".into(),
                                message: err.to_string(),
                                traceback: String::new(),
                            },
                            retry_delay_ms: None,
                            retryable: false,
                        },
                    }
                }
                1 => {
                    let (kind, message, traceback, retry_delay_ms, retryable): (
                        String,
                        String,
                        String,
                        Option<u64>,
                        bool,
                    ) = payload.extract()?;
                    Outcome::Failed {
                        error: WireError {
                            r#type: kind,
                            message,
                            traceback,
                        },
                        retry_delay_ms,
                        retryable,
                    }
                }
                2 => Outcome::Aborted,
                _ => Outcome::Interrupted,
            };
            converted.push((handle, outcome));
        }
        engine.report(converted);
        Ok(())
    }

    /// Stops fetching; held jobs still run.
    fn stop_worker(&self) {
        match &*self.engine.lock().expect("engine") {
            EngineSlot::Running(engine) => engine.request_stop(),
            EngineSlot::Starting(cancelled) => cancelled.store(true, Ordering::Release),
            EngineSlot::Idle => {}
        }
    }

    /// Hands back jobs that have not started (end of the grace period).
    fn abandon_waiting(&self) {
        if let Some(engine) = self.running_engine() {
            engine.abandon_waiting();
        }
    }

    /// (held, running, completed, failed) of the current worker run.
    fn worker_counters(&self) -> (usize, usize, u64, u64) {
        self.running_engine().map_or((0, 0, 0, 0), |e| e.counters())
    }
}

/// The exact `enqueue.lua` KEYS and ARGV for one job at clock `now_ms`.
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

/// The canonical MessagePack of a value.
#[pyfunction]
pub fn encode_value<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::new();
    convert::encode(value, &mut out, &mut "$".to_owned())?;
    Ok(PyBytes::new(py, &out))
}

/// A value from MessagePack, checked against the type table.
#[pyfunction]
pub fn decode_value(py: Python<'_>, data: &[u8]) -> PyResult<Py<PyAny>> {
    let value = ardiq_spec::value::decode(data).map_err(CoreError::from)?;
    convert::to_python(py, &value)
}
