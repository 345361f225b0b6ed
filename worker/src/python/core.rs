//! `ardiq._core.Core`: the Python-facing object of one app. Every method
//! returns at once: work that touches Redis is spawned on the tokio runtime
//! with the request id Python chose, and its reply comes back through the
//! bridge, converted in `drain`. Producer calls go through the Rust client
//! (`ardiq_client`), the same producer every Rust program uses; a worker run
//! is an `Engine`.
//!
//! Longer than most rooms (about 550 lines) because PyO3 takes one
//! `#[pymethods]` block per class; the request bodies live in `requests.rs`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ardiq_client::connection::ConnectOptions;
use ardiq_client::pubsub::Hub;
use ardiq_client::{Client, ListState};
use ardiq_spec::limits;
use ardiq_spec::Error as WireError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use tokio::sync::OnceCell;

use super::convert;
use super::requests::{
    abort_work, client_for, journal_work, queue_info_work, reply_to_python, status_work, wait_work,
};
use super::runtime::runtime;
use super::types::{WorkerConfig, OUTCOME_ABORTED, OUTCOME_COMPLETE, OUTCOME_FAILED};
use crate::bridge::{Bridge, ReplyValue};
use crate::conn::{is_transient, Conn, Target};
use crate::engine::{Outcome, Run};
use crate::error::CoreError;

/// The native core of one `Ardiq` app: producer operations and at most one
/// worker run at a time.
#[pyclass(module = "ardiq._core", frozen)]
#[derive(Debug)]
pub struct Core {
    pub(super) target: Target,
    pub(super) queue: String,
    pub(super) bridge: Arc<Bridge>,
    pub(super) client: Arc<OnceCell<Client>>,
    engine: Arc<Mutex<EngineSlot>>,
    /// The connection of journal reads, which block (opened on first use).
    journal_reader: Arc<tokio::sync::Mutex<Option<Conn>>>,
}

/// The worker run of a core, if any.
#[derive(Debug)]
enum EngineSlot {
    Idle,
    /// Connecting; the flag is set when a stop comes first.
    Starting(Arc<AtomicBool>),
    Running(Arc<Run>),
}

/// How long a starting worker waits for Redis to answer.
const START_PATIENCE: Duration = Duration::from_secs(60);

/// Runs `attempt` for a starting worker until it succeeds: while Redis is
/// unreachable or busy for now (a restart, a worker started before its
/// Redis, a Redis still loading its data), tries again with backoff for up
/// to a minute, saying so in the log, instead of exiting at once. Other
/// errors (credentials, configuration) and a stop end it at once.
async fn patiently<T, F, Fut>(
    bridge: &Bridge,
    cancelled: &AtomicBool,
    mut attempt: F,
) -> Result<T, CoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, redis::RedisError>>,
{
    let began = Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        let err = match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let for_now = is_transient(&err);
        let err = CoreError::from(err);
        if !for_now || began.elapsed() > START_PATIENCE {
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
    fn running_engine(&self) -> Option<Arc<Run>> {
        match &*self.engine.lock().expect("engine") {
            EngineSlot::Running(engine) => Some(Arc::clone(engine)),
            _ => None,
        }
    }
}

/// Everything the core had ready at one wake-up.
#[pyclass(module = "ardiq._core", frozen, get_all)]
#[derive(Debug)]
pub struct Drained {
    /// `(request id, ok, reply or exception)`.
    replies: Py<PyList>,
    /// Jobs to start: `(handle, task, args, kwargs, job id, attempt, timeout_s)`.
    jobs: Py<PyList>,
    /// Running jobs to cancel: `(handle, CANCEL_ABORTED or CANCEL_LOST)`.
    cancels: Vec<(u64, u8)>,
    /// `(level, message)` for Python's `logging`.
    logs: Vec<(u8, String)>,
    /// Lines about jobs: `(level, event, job id, task, queue, attempt,
    /// duration_ms, error type, message, traceback)`.
    job_events: Py<PyList>,
    /// Whether the worker run ended.
    exited: bool,
    /// When it ended: `(started, completed, failed, retried)` runs.
    exit_totals: (u64, u64, u64, u64),
    /// The error that ended it, `None` for a clean end.
    exit_error: Option<String>,
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
            queue,
            bridge: Arc::new(Bridge::new()?),
            client: Arc::new(OnceCell::new()),
            engine: Arc::new(Mutex::new(EngineSlot::Idle)),
            journal_reader: Arc::new(tokio::sync::Mutex::new(None)),
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

    /// Everything ready since the last call.
    fn drain(&self, py: Python<'_>) -> PyResult<Drained> {
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
            let args = if job.args.is_empty() {
                PyTuple::empty(py)
            } else {
                let items = job
                    .args
                    .iter()
                    .map(|arg| convert::to_python(py, arg))
                    .collect::<PyResult<Vec<_>>>()?;
                PyTuple::new(py, items)?
            };
            let kwargs = PyDict::new(py);
            for (key, value) in &job.kwargs {
                kwargs.set_item(key, convert::to_python(py, value)?)?;
            }
            let timeout_s = job.timeout_ms.map(|ms| ms as f64 / 1000.0);
            let headers = if job.headers.is_empty() {
                py.None().into_bound(py)
            } else {
                let headers = PyDict::new(py);
                for (name, value) in &job.headers {
                    headers.set_item(name, value)?;
                }
                headers.into_any()
            };
            let deadline_ms = job
                .timeout_ms
                .map(|ms| job.started_ms.saturating_add(ms as i64));
            jobs.append((
                job.handle,
                job.task,
                args,
                kwargs,
                job.job_id,
                job.attempt,
                timeout_s,
                (
                    &*job.queue,
                    job.priority,
                    job.max_retries,
                    job.enqueued_ms,
                    deadline_ms,
                    headers,
                ),
            ))?;
        }
        let job_events = PyList::empty(py);
        for e in ready.job_events {
            job_events.append((
                e.level,
                e.event,
                e.job_id,
                e.task,
                &*e.queue,
                e.attempt,
                e.duration_ms,
                e.error_type,
                e.message,
                e.traceback,
            ))?;
        }
        let exited = ready.worker_exit.is_some();
        let mut exit_totals = (0, 0, 0, 0);
        if exited {
            let mut slot = self.engine.lock().expect("engine");
            if let EngineSlot::Running(run) = &*slot {
                exit_totals = run.totals();
            }
            *slot = EngineSlot::Idle;
        }
        Ok(Drained {
            replies: replies.unbind(),
            jobs: jobs.unbind(),
            cancels: ready
                .cancels
                .into_iter()
                .map(|(h, r)| (h, r as u8))
                .collect(),
            logs: ready.logs,
            job_events: job_events.unbind(),
            exited,
            exit_totals,
            exit_error: ready.worker_exit.flatten(),
        })
    }

    /// Checks every job now (raising typed errors before anything is sent),
    /// then enqueues them, each to its queue; returns their ids at once.
    fn enqueue(
        &self,
        py: Python<'_>,
        request: u64,
        items: Vec<Bound<'_, PyTuple>>,
    ) -> PyResult<Vec<String>> {
        let (ids, work) = self.enqueue_work(&items)?;
        self.spawn_request(py, request, work);
        Ok(ids)
    }

    /// `enqueue` for sync code: waits for Redis; returns the ids and the
    /// outcome names.
    fn enqueue_blocking(
        &self,
        py: Python<'_>,
        items: Vec<Bound<'_, PyTuple>>,
    ) -> PyResult<(Vec<String>, Py<PyAny>)> {
        let (ids, work) = self.enqueue_work(&items)?;
        Ok((ids, self.request_blocking(py, work)?))
    }

    /// `status` for sync code: waits and returns the `ardiq.job.JobInfo`.
    #[pyo3(signature = (job_id, queue = None))]
    fn status_blocking(
        &self,
        py: Python<'_>,
        job_id: String,
        queue: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        self.request_blocking(py, move |client| status_work(client, job_id, queue))
    }

    /// `abort` for sync code: waits and returns the outcome's name.
    #[pyo3(signature = (job_id, queue = None))]
    fn abort_blocking(
        &self,
        py: Python<'_>,
        job_id: String,
        queue: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        self.request_blocking(py, move |client| abort_work(client, job_id, queue))
    }

    /// Reads a job's state and result: replies an `ardiq.job.JobInfo`.
    #[pyo3(signature = (request, job_id, queue = None))]
    fn status(&self, py: Python<'_>, request: u64, job_id: String, queue: Option<String>) {
        self.spawn_request(py, request, move |client| {
            status_work(client, job_id, queue)
        });
    }

    /// Reads the journal of `queue` (the app's when `None`) after entry id
    /// `after` ("$": from now on), waiting up to `block_ms` for an entry:
    /// replies `(next, [(entry id, [(field, value), ...]), ...])`, `next`
    /// the id to read after next time (never "$"). Blocking reads
    /// share one connection of their own, apart from every other request.
    #[pyo3(signature = (request, after, count, block_ms, queue = None))]
    fn read_journal(
        &self,
        py: Python<'_>,
        request: u64,
        after: String,
        count: usize,
        block_ms: u64,
        queue: Option<String>,
    ) {
        let reader = Arc::clone(&self.journal_reader);
        let target = self.target.clone();
        let key = ardiq_spec::QueueKeys::new(queue.as_deref().unwrap_or(&self.queue)).journal();
        self.spawn_request(py, request, move |_client| {
            journal_work(reader, target, key, after, count, block_ms)
        });
    }

    /// Waits up to `timeout_ms` for a job to end: replies its
    /// `ardiq.job.JobInfo`, not terminal when the time ran out.
    #[pyo3(signature = (request, job_id, timeout_ms, queue = None))]
    fn wait(
        &self,
        py: Python<'_>,
        request: u64,
        job_id: String,
        timeout_ms: u64,
        queue: Option<String>,
    ) {
        let timeout = Duration::from_millis(timeout_ms);
        self.spawn_request(py, request, move |client| {
            wait_work(client, job_id, queue, timeout)
        });
    }

    /// `wait` for sync code: waits in the calling thread.
    #[pyo3(signature = (job_id, timeout_ms, queue = None))]
    fn wait_blocking(
        &self,
        py: Python<'_>,
        job_id: String,
        timeout_ms: u64,
        queue: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let timeout = Duration::from_millis(timeout_ms);
        self.request_blocking(py, move |client| wait_work(client, job_id, queue, timeout))
    }

    /// Aborts a job: replies the `abort.lua` outcome's name.
    #[pyo3(signature = (request, job_id, queue = None))]
    fn abort(&self, py: Python<'_>, request: u64, job_id: String, queue: Option<String>) {
        self.spawn_request(py, request, move |client| abort_work(client, job_id, queue));
    }

    /// Lists the oldest `count` dead letters: replies `ardiq.job.DeadLetter`s.
    fn dead_letters(&self, py: Python<'_>, request: u64, count: usize) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move { Ok(ReplyValue::DeadLetters(client.dead_letters(count).await?)) })
        });
    }

    /// Lists the cron schedules of `queue` (default the app's) as Redis
    /// holds them: replies `ardiq.cron.ScheduleState`s.
    #[pyo3(signature = (request, queue = None))]
    fn schedules(&self, py: Python<'_>, request: u64, queue: Option<String>) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move {
                let client = client_for(&client, queue.as_deref())?;
                Ok(ReplyValue::Schedules(client.schedules().await?))
            })
        });
    }

    /// Replays one dead letter: replies the job id queued again, or `None`
    /// when the dead letter is gone.
    fn replay_dead(&self, py: Python<'_>, request: u64, entry_id: String) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move {
                let job = client.replay_dead_letter(&entry_id).await?;
                Ok(ReplyValue::Replayed(job.map(|job| job.id().to_owned())))
            })
        });
    }

    /// Deletes dead letters: replies how many were removed.
    fn delete_dead(&self, py: Python<'_>, request: u64, entry_ids: Vec<String>) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move {
                Ok(ReplyValue::Count(
                    client.delete_dead_letters(&entry_ids).await?,
                ))
            })
        });
    }

    /// Connects (once) and checks the server answers.
    fn ping(&self, py: Python<'_>, request: u64) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move {
                client.ping().await?;
                Ok(ReplyValue::Unit)
            })
        });
    }

    /// Empties the database the app's URL names (`FLUSHDB`; on a cluster,
    /// every master's): for `ardiq.testing`, between tests.
    /// Waits with the GIL released.
    fn flush_database(&self, py: Python<'_>) -> PyResult<()> {
        let target = self.target.clone();
        self.request_blocking(py, move |_client| {
            Box::pin(async move {
                let mut conn = target.connect(Duration::ZERO).await?;
                let () = redis::cmd("FLUSHDB").query_async(&mut conn).await?;
                Ok(ReplyValue::Unit)
            })
        })?;
        Ok(())
    }

    /// Starts a worker run; its start (or the error that prevented it) is
    /// the reply to `request`.
    fn start_worker(&self, py: Python<'_>, request: u64, config: &WorkerConfig) -> PyResult<()> {
        let worker = config.engine.clone();
        let queues = config.queues.clone();
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
        let slot = Arc::clone(&self.engine);
        let block = Duration::from_millis(worker.block_ms);
        runtime(py).spawn(async move {
            let run = Run::new(&worker, &queues, &bridge);
            let prepared = async {
                let conn =
                    patiently(&bridge, &cancelled, || target.connect(Duration::ZERO)).await?;
                // A blocking read holds its connection: one reader per queue.
                let mut readers = Vec::with_capacity(queues.len());
                for _ in &queues {
                    readers.push(patiently(&bridge, &cancelled, || target.connect(block)).await?);
                }
                // A Redis still loading its data answers LOADING here.
                patiently(&bridge, &cancelled, || {
                    let (run, mut conn) = (Arc::clone(&run), conn.clone());
                    async move { run.create_groups(&mut conn).await }
                })
                .await?;
                run.warn_if_redis_may_evict(&mut conn.clone()).await;
                Ok::<_, CoreError>((conn, readers))
            }
            .await;
            let (conn, readers) = match prepared {
                Ok(connections) => connections,
                Err(err) => {
                    *slot.lock().expect("engine") = EngineSlot::Idle;
                    bridge.reply(request, Err(err));
                    return;
                }
            };
            // Reachable before its first engine starts: reports may come at once.
            *slot.lock().expect("engine") = EngineSlot::Running(Arc::clone(&run));
            // One subscriber connection for the run's events channels.
            let hub = Hub::new(target.url.clone(), target.options.clone());
            run.spawn(&conn, readers, &hub);
            if cancelled.load(Ordering::Acquire) {
                run.request_stop();
            }
            bridge.reply(request, Ok(ReplyValue::Unit));
        });
        Ok(())
    }

    /// Reports finished runs: `(handle, outcome code, payload)`, the codes
    /// and payloads as `OUTCOME_*` say.
    fn report(&self, outcomes: Vec<(u64, u8, Bound<'_, PyAny>)>) {
        let Some(engine) = self.running_engine() else {
            return;
        };
        let mut converted = Vec::with_capacity(outcomes.len());
        for (handle, code, payload) in outcomes {
            let outcome = match code {
                OUTCOME_COMPLETE => {
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
                OUTCOME_FAILED => failed_outcome(&payload),
                OUTCOME_ABORTED => Outcome::Aborted,
                _ => Outcome::Interrupted,
            };
            converted.push((handle, outcome));
        }
        engine.report(converted);
    }

    /// Stops fetching; held jobs still run. Before the run has connected,
    /// ends its start instead.
    fn stop_worker(&self) {
        match &*self.engine.lock().expect("engine") {
            EngineSlot::Running(engine) => engine.request_stop(),
            EngineSlot::Starting(cancelled) => cancelled.store(true, Ordering::Release),
            EngineSlot::Idle => {}
        }
    }

    /// A running job reports its progress (SPEC.md section 16): `fraction`
    /// 0.0 to 1.0 and a message of at most 1,024 bytes, else `ValueError`.
    fn progress(&self, handle: u64, fraction: f64, message: String) -> PyResult<()> {
        check_progress(fraction, &message)?;
        if let Some(engine) = self.running_engine() {
            engine.report_progress(handle, fraction, message);
        }
        Ok(())
    }

    /// Hands back jobs that have not started (end of the grace period).
    fn abandon_waiting(&self) {
        if let Some(engine) = self.running_engine() {
            engine.abandon_waiting();
        }
    }

    /// Lines about every job (`started`, `completed`) on or off; retries and
    /// failures are always told.
    fn set_job_logs(&self, on: bool) {
        self.bridge.set_job_logs(on);
    }

    /// The current run's metrics: a list of `(queue, tasks, dead letters,
    /// running)` as `engine::Run::metrics` gives them, and this process's
    /// `(failed Redis commands, reconnects)`.
    #[allow(clippy::type_complexity)]
    fn metrics(
        &self,
    ) -> (
        Vec<(
            String,
            Vec<crate::engine::metrics::TaskSnapshot>,
            Vec<(String, String, u64)>,
            usize,
        )>,
        (u64, u64),
    ) {
        (
            self.running_engine()
                .map(|run| run.metrics())
                .unwrap_or_default(),
            ardiq_client::connection::error_counts(),
        )
    }

    /// A queue at a glance: replies `ardiq.inspect.QueueInfo` fields.
    #[pyo3(signature = (request, queue = None))]
    fn queue_info(&self, py: Python<'_>, request: u64, queue: Option<String>) {
        self.spawn_request(py, request, move |client| queue_info_work(client, queue));
    }

    /// `queue_info` for sync code (a metrics scrape): waits.
    #[pyo3(signature = (queue = None))]
    fn queue_info_blocking(&self, py: Python<'_>, queue: Option<String>) -> PyResult<Py<PyAny>> {
        self.request_blocking(py, move |client| queue_info_work(client, queue))
    }

    /// The queue's workers: replies a list of `ardiq.inspect.WorkerInfo` fields.
    #[pyo3(signature = (request, queue = None))]
    fn workers(&self, py: Python<'_>, request: u64, queue: Option<String>) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move {
                let client = client_for(&client, queue.as_deref())?;
                Ok(ReplyValue::Workers(client.workers().await?))
            })
        });
    }

    /// A page of jobs in `state`: replies `(jobs, next cursor)`.
    #[pyo3(signature = (request, state, count, cursor = None, queue = None))]
    fn jobs(
        &self,
        py: Python<'_>,
        request: u64,
        state: &str,
        count: usize,
        cursor: Option<String>,
        queue: Option<String>,
    ) -> PyResult<()> {
        let state = ListState::parse(state).map_err(CoreError::from)?;
        self.spawn_request(py, request, move |client| {
            Box::pin(async move {
                let client = client_for(&client, queue.as_deref())?;
                let page = client.jobs(state, count, cursor.as_deref()).await?;
                Ok(ReplyValue::Jobs(page, state.as_str()))
            })
        });
        Ok(())
    }

    /// One job's full record: replies `ardiq.inspect.JobDetails` fields.
    #[pyo3(signature = (request, job_id, queue = None))]
    fn job_details(&self, py: Python<'_>, request: u64, job_id: String, queue: Option<String>) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move {
                let client = client_for(&client, queue.as_deref())?;
                Ok(ReplyValue::Details(Box::new(
                    client.job_details(&job_id).await?,
                )))
            })
        });
    }

    /// The queues of this Redis (a `SCAN` of every key): replies names.
    fn queues(&self, py: Python<'_>, request: u64) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move { Ok(ReplyValue::Names(client.queues().await?)) })
        });
    }

    /// Up to `count` kept failures after entry `after`: replies a list of
    /// `ardiq.inspect.Failure` fields.
    #[pyo3(signature = (request, count, after = None, queue = None))]
    fn failures(
        &self,
        py: Python<'_>,
        request: u64,
        count: usize,
        after: Option<String>,
        queue: Option<String>,
    ) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move {
                let client = client_for(&client, queue.as_deref())?;
                Ok(ReplyValue::Failures(
                    client.failures(count, after.as_deref()).await?,
                ))
            })
        });
    }

    /// Replays one kept failure: replies the job id, or `None` when gone.
    #[pyo3(signature = (request, entry_id, queue = None))]
    fn replay_failure(
        &self,
        py: Python<'_>,
        request: u64,
        entry_id: String,
        queue: Option<String>,
    ) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move {
                let client = client_for(&client, queue.as_deref())?;
                let job = client.replay_failure(&entry_id).await?;
                Ok(ReplyValue::Replayed(job.map(|job| job.id().to_owned())))
            })
        });
    }

    /// Deletes kept failures: replies how many were removed.
    #[pyo3(signature = (request, entry_ids, queue = None))]
    fn delete_failures(
        &self,
        py: Python<'_>,
        request: u64,
        entry_ids: Vec<String>,
        queue: Option<String>,
    ) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move {
                let client = client_for(&client, queue.as_deref())?;
                Ok(ReplyValue::Count(client.delete_failures(&entry_ids).await?))
            })
        });
    }

    /// Removes every waiting and scheduled job: replies how many.
    #[pyo3(signature = (request, queue = None))]
    fn purge(&self, py: Python<'_>, request: u64, queue: Option<String>) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move {
                let client = client_for(&client, queue.as_deref())?;
                Ok(ReplyValue::Count(client.purge().await?))
            })
        });
    }

    /// `(held, running, completed, failed)` of the current worker run.
    fn worker_counters(&self) -> (usize, usize, u64, u64) {
        self.running_engine().map_or((0, 0, 0, 0), |e| e.counters())
    }
}

/// Checks a progress report (SPEC.md section 16): `ValueError` saying what
/// is wrong with it.
#[pyfunction]
pub fn check_progress(fraction: f64, message: &str) -> PyResult<()> {
    limits::check_progress(fraction, message).map_err(pyo3::exceptions::PyValueError::new_err)
}

/// A failed run's payload, `(type, message, traceback, retry delay ms,
/// retryable)`, read field by field so that none can lose the report it
/// came in (every outcome of it would stay unwritten, its jobs held for
/// good): text that is not valid UTF-8 (a lone surrogate, as in a file name
/// of undecodable bytes) is kept with such characters escaped (`\udce9`); a
/// value of the wrong type counts as absent (no text, the task's backoff,
/// retryable).
fn failed_outcome(payload: &Bound<'_, PyAny>) -> Outcome {
    let field = |index: usize| payload.get_item(index).ok();
    let text = |index: usize| {
        let Some(text) = field(index).and_then(|value| value.str().ok()) else {
            return String::new();
        };
        if let Ok(utf8) = text.to_str() {
            return utf8.to_owned();
        }
        text.call_method1("encode", ("utf-8", "backslashreplace"))
            .and_then(|bytes| bytes.extract::<Vec<u8>>())
            .map_or_else(
                |_| text.to_string_lossy().into_owned(),
                |bytes| String::from_utf8_lossy(&bytes).into_owned(),
            )
    };
    Outcome::Failed {
        error: WireError {
            r#type: text(0),
            message: text(1),
            traceback: text(2),
        },
        retry_delay_ms: field(3).and_then(|delay| delay.extract().ok()),
        retryable: field(4)
            .and_then(|retryable| retryable.extract().ok())
            .unwrap_or(true),
    }
}
