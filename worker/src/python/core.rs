//! `ardiq._core.Core`: the Python-facing object of one app. Every method
//! returns at once: work that touches Redis is spawned on the tokio runtime
//! with the request id Python chose, and its reply comes back through the
//! bridge, converted in `drain`. Producer calls go through the Rust client
//! (`ardiq_client`), the same producer every Rust program uses; a worker run
//! is an `Engine`.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ardiq_client::connection::ConnectOptions;
use ardiq_client::Client;
use ardiq_spec::limits;
use ardiq_spec::Error as WireError;
use futures::FutureExt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use tokio::sync::OnceCell;

use super::convert;
use super::items::item_from;
use super::runtime::{linger, runtime};
use super::types::{self, WorkerConfig, OUTCOME_ABORTED, OUTCOME_COMPLETE, OUTCOME_FAILED};
use crate::bridge::{Bridge, ReplyValue};
use crate::conn::{Conn, Target};
use crate::engine::{self, Engine, Outcome};
use crate::error::CoreError;

/// The native core of one `Ardiq` app: producer operations and at most one
/// worker run at a time.
#[pyclass(module = "ardiq._core", frozen)]
#[derive(Debug)]
pub struct Core {
    target: Target,
    queue: String,
    bridge: Arc<Bridge>,
    client: Arc<OnceCell<Client>>,
    engine: Arc<Mutex<EngineSlot>>,
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

/// The future a request handler returns.
type BoxedReply =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<ReplyValue, CoreError>> + Send>>;

impl Core {
    fn running_engine(&self) -> Option<Arc<Engine>> {
        match &*self.engine.lock().expect("engine") {
            EngineSlot::Running(engine) => Some(Arc::clone(engine)),
            _ => None,
        }
    }

    /// Runs `work` on the runtime with the client (connected on first use)
    /// and hands its reply to Python as the answer to `request`.
    fn spawn_request<F>(&self, py: Python<'_>, request: u64, work: F)
    where
        F: FnOnce(Client) -> BoxedReply + Send + 'static,
    {
        let bridge = Arc::clone(&self.bridge);
        let cell = Arc::clone(&self.client);
        let target = self.target.clone();
        let queue = self.queue.clone();
        runtime(py).spawn(async move {
            let handled = AssertUnwindSafe(async {
                let client = cell
                    .get_or_try_init(|| {
                        Client::builder(target.url.as_str())
                            .queue(queue)
                            .connect_options(target.options.clone())
                            .connect()
                    })
                    .await?;
                work(client.clone()).await
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

fn reply_to_python(py: Python<'_>, reply: ReplyValue) -> PyResult<Py<PyAny>> {
    Ok(match reply {
        ReplyValue::Enqueued(outcomes) => {
            let names: Vec<&str> = outcomes.iter().map(|o| o.as_str()).collect();
            PyList::new(py, names)?.into_any().unbind()
        }
        ReplyValue::Status(info) => types::job_info(py, info)?,
        ReplyValue::Abort(outcome) => outcome.as_str().into_pyobject(py)?.into_any().unbind(),
        ReplyValue::DeadLetters(letters) => {
            let list = PyList::empty(py);
            for letter in letters {
                list.append(types::dead_letter(py, letter)?)?;
            }
            list.into_any().unbind()
        }
        ReplyValue::Replayed(id) => id.into_pyobject(py)?.into_any().unbind(),
        ReplyValue::Count(n) => n.into_pyobject(py)?.into_any().unbind(),
        ReplyValue::Unit => py.None(),
    })
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
    /// Whether the worker run ended.
    exited: bool,
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
        let exited = ready.worker_exit.is_some();
        if exited {
            *self.engine.lock().expect("engine") = EngineSlot::Idle;
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
            exited,
            exit_error: ready.worker_exit.flatten(),
        })
    }

    /// Checks every job now (raising typed errors before anything is sent),
    /// then enqueues them; returns their ids at once.
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
        self.spawn_request(py, request, move |client| {
            Box::pin(async move { Ok(ReplyValue::Enqueued(client.enqueue_jobs(jobs).await?)) })
        });
        Ok(ids)
    }

    /// Reads a job's state and result: replies an `ardiq.job.JobInfo`.
    fn status(&self, py: Python<'_>, request: u64, job_id: String) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move { Ok(ReplyValue::Status(client.job(job_id).info().await?)) })
        });
    }

    /// Aborts a job: replies the `abort.lua` outcome's name.
    fn abort(&self, py: Python<'_>, request: u64, job_id: String) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move { Ok(ReplyValue::Abort(client.job(job_id).abort().await?)) })
        });
    }

    /// Lists the oldest `count` dead letters: replies `ardiq.job.DeadLetter`s.
    fn dead_letters(&self, py: Python<'_>, request: u64, count: usize) {
        self.spawn_request(py, request, move |client| {
            Box::pin(async move { Ok(ReplyValue::DeadLetters(client.dead_letters(count).await?)) })
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

    /// Starts a worker run; its start (or the error that prevented it) is
    /// the reply to `request`.
    fn start_worker(&self, py: Python<'_>, request: u64, config: &WorkerConfig) -> PyResult<()> {
        let worker = config.engine.clone();
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

    /// Reports finished runs: `(handle, outcome code, payload)`, the codes
    /// and payloads as `OUTCOME_*` say.
    fn report(&self, outcomes: Vec<(u64, u8, Bound<'_, PyAny>)>) -> PyResult<()> {
        let Some(engine) = self.running_engine() else {
            return Ok(());
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
                OUTCOME_FAILED => {
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
                OUTCOME_ABORTED => Outcome::Aborted,
                _ => Outcome::Interrupted,
            };
            converted.push((handle, outcome));
        }
        engine.report(converted);
        Ok(())
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

    /// Hands back jobs that have not started (end of the grace period).
    fn abandon_waiting(&self) {
        if let Some(engine) = self.running_engine() {
            engine.abandon_waiting();
        }
    }

    /// `(held, running, completed, failed)` of the current worker run.
    fn worker_counters(&self) -> (usize, usize, u64, u64) {
        self.running_engine().map_or((0, 0, 0, 0), |e| e.counters())
    }
}
