//! The worker engine. It owns every Redis interaction of a worker run and
//! never takes the GIL: it fetches batches with `XREADGROUP`, validates each
//! entry (dead-lettering what must not run), keeps fetched jobs in a local
//! priority queue, hands them to Python through the bridge, and stores what
//! Python reports in batched `finish.lua` calls. Background tasks promote due
//! delayed jobs, renew ownership of held entries, reclaim entries of dead
//! workers, poll abort requests and write heartbeats.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ardiq_spec::limits::{MAX_BATCH, MAX_DURATION_MS, MAX_RECORD_BYTES};
use ardiq_spec::{
    scripts, DeadLetter, Error as WireError, Heartbeat, Job, QueueKeys, State, Status, Value,
    DEFAULT_RESULT_TTL_MS, GROUP, PRIORITY_LEVELS, SPEC_VERSION,
};
use prost::Message;
use rand::Rng;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use redis::{Script, Value as RedisValue};
use tokio::sync::{mpsc, watch, Notify};

use crate::bridge::{Bridge, CancelReason, StartJob};
use crate::conn::Conn;
use crate::error::CoreError;

/// A job waiting this long in the local queue starts before fresher ones.
const STARVATION_MS: u128 = 10_000;
/// Longest retry delay.
const MAX_BACKOFF_MS: u64 = 3_600_000;
/// How often held entries are checked against the abort set.
const ABORT_POLL: Duration = Duration::from_millis(500);
/// Idle time given to handed-back entries: longer than any visibility
/// timeout (about 30 years), so every reclaim pass takes them.
const HANDED_BACK_IDLE_MS: u64 = 1_000_000_000_000;

/// Now, in ms since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Per-task settings the engine needs.
#[derive(Debug, Clone)]
pub struct TaskConfig {
    /// Retries after the first run.
    pub retries: u32,
    /// Base backoff, ms.
    pub backoff_ms: u64,
    /// Time limit, ms.
    pub timeout_ms: Option<u64>,
    /// Result TTL, ms.
    pub result_ttl_ms: u64,
}

/// Settings of one worker run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Consumer name.
    pub worker_id: String,
    /// Most jobs running at once.
    pub concurrency: usize,
    /// Jobs fetched ahead of free slots, so the next batch is ready when a
    /// slot frees.
    pub prefetch: usize,
    /// Drain the queue and stop.
    pub burst: bool,
    /// Idle time after which an entry may be reclaimed, ms.
    pub visibility_ms: u64,
    /// Deliveries after which an entry is dead-lettered.
    pub max_deliveries: u64,
    /// `XREADGROUP` block time, ms.
    pub block_ms: u64,
    /// Longest pause between promotions, ms.
    pub promote_interval_ms: u64,
    /// Heartbeat interval, ms.
    pub heartbeat_ms: u64,
    /// Registered tasks.
    pub tasks: HashMap<String, TaskConfig>,
    /// Cap of the dead-letter stream.
    pub dead_maxlen: u64,
    /// For the heartbeat.
    pub hostname: String,
    /// For the heartbeat.
    pub pid: u32,
}

/// What Python reports for a run.
#[derive(Debug)]
pub enum Outcome {
    /// Returned; the encoded value.
    Complete(Vec<u8>),
    /// Raised.
    Failed {
        /// The error.
        error: WireError,
        /// `Retry(delay_ms=...)` asked for this delay.
        retry_delay_ms: Option<u64>,
        /// False for errors that must not be retried.
        retryable: bool,
    },
    /// Cancelled by an abort.
    Aborted,
    /// Not finished at shutdown: hand the entry back.
    Interrupted,
}

/// A fetched entry this worker owns.
#[derive(Debug)]
struct Held {
    job: Job,
    entry_id: String,
    priority: u32,
    fetched: Instant,
    started_ms: i64,
    running: bool,
    cancel_sent: bool,
    values: Option<Arguments>,
}

/// Positional and keyword arguments of a job.
type Arguments = (Vec<Value>, Vec<(String, Value)>);

#[derive(Debug, Default)]
struct Local {
    held: HashMap<u64, Held>,
    /// `(priority, entry id)`: entry ids are unique per stream only.
    by_entry: HashSet<(u32, String)>,
    waiting: [VecDeque<u64>; PRIORITY_LEVELS as usize],
    running: usize,
    next_handle: u64,
    stopping: bool,
    completed: u64,
    failed: u64,
}

impl Local {
    fn remove(&mut self, handle: u64) -> Option<Held> {
        let held = self.held.remove(&handle)?;
        self.by_entry
            .remove(&(held.priority, held.entry_id.clone()));
        if held.running {
            self.running -= 1;
        } else {
            self.waiting[held.priority as usize].retain(|&h| h != handle);
        }
        Some(held)
    }

    /// The next waiting job: the longest-waiting one if it has starved,
    /// else the highest priority, first fetched first.
    fn next_waiting(&mut self) -> Option<u64> {
        let mut starved: Option<(usize, Instant)> = None;
        for (level, queue) in self.waiting.iter().enumerate() {
            if let Some(held) = queue.front().and_then(|h| self.held.get(h)) {
                if held.fetched.elapsed().as_millis() > STARVATION_MS
                    && starved.is_none_or(|(_, at)| held.fetched < at)
                {
                    starved = Some((level, held.fetched));
                }
            }
        }
        if let Some((level, _)) = starved {
            return self.waiting[level].pop_front();
        }
        self.waiting.iter_mut().rev().find_map(VecDeque::pop_front)
    }
}

/// A write the finisher makes.
#[derive(Debug)]
enum Action {
    Finish(FinishItem),
    Retry {
        priority: u32,
        entry_id: String,
        due_ms: i64,
        /// The next attempt's record.
        job: Job,
        aborted: Vec<u8>,
        ttl_ms: u64,
    },
    Release {
        priority: u32,
        entry_id: String,
        job_id: String,
    },
    Dead(DeadItem),
}

/// A terminal status to store with `finish.lua`.
#[derive(Debug)]
struct FinishItem {
    priority: u32,
    entry_id: String,
    /// The job, for a dead letter should Redis refuse the status.
    job: Job,
    ttl_ms: u64,
    status: Vec<u8>,
}

#[derive(Debug)]
struct DeadItem {
    priority: u32,
    entry_id: String,
    job_id: String,
    task: String,
    reason: &'static str,
    record: Vec<u8>,
    status: Vec<u8>,
    ttl_ms: u64,
}

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

fn field<'a>(entry: &'a StreamId, name: &str) -> Option<&'a [u8]> {
    match entry.map.get(name)? {
        RedisValue::BulkString(b) => Some(b),
        RedisValue::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// Checks one stream entry against SPEC.md section 9.
#[allow(clippy::implicit_hasher)]
pub fn validate(
    entry: &StreamId,
    tasks: &HashMap<String, TaskConfig>,
) -> Result<Accepted, Rejection> {
    let reject = |reason, detail: String, job_id: &str, task: &str| Rejection {
        reason,
        detail,
        job_id: job_id.to_owned(),
        task: task.to_owned(),
    };
    let id = field(entry, "id").and_then(|b| std::str::from_utf8(b).ok());
    let task = field(entry, "task").and_then(|b| std::str::from_utf8(b).ok());
    let (Some(id), Some(task), Some(raw)) = (id, task, field(entry, "job")) else {
        return Err(reject(
            "malformed_entry",
            "the entry needs UTF-8 fields id and task and a job field".into(),
            id.unwrap_or(""),
            task.unwrap_or(""),
        ));
    };
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

/// Delay before retry number `attempt + 1`: exponential, capped, ±25 % jitter.
pub fn backoff_ms(base_ms: u64, attempt: u32, jitter: f64) -> u64 {
    let exp = base_ms
        .saturating_mul(1u64 << attempt.min(40))
        .min(MAX_BACKOFF_MS);
    (exp as f64 * (0.75 + 0.5 * jitter)) as u64
}

/// Creates the consumer group on every level (SPEC.md section 1): from id
/// 0, so entries added before it existed are delivered; a group that
/// exists is left as it is.
async fn create_groups(keys: &QueueKeys, conn: &mut Conn) -> Result<(), redis::RedisError> {
    // One call per level: this runs at start and after Redis lost its data.
    for stream in keys.streams_low_to_high() {
        let created: Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(conn)
            .await;
        if let Err(err) = created {
            if err.code() != Some("BUSYGROUP") {
                return Err(err);
            }
        }
    }
    Ok(())
}

/// Whether stream entry id `a` (`<ms>-<seq>`) sorts before `b`.
fn stream_id_before(a: &str, b: &str) -> bool {
    let parse = |id: &str| {
        let (ms, seq) = id.split_once('-')?;
        Some((ms.parse::<u64>().ok()?, seq.parse::<u64>().ok()?))
    };
    match (parse(a), parse(b)) {
        (Some(a), Some(b)) => a < b,
        _ => a < b,
    }
}

/// Why a write did not happen.
#[derive(Debug)]
enum Stored {
    /// Redis answered the write itself with an error: splitting or
    /// dead-lettering is the way on, not trying again.
    Refused(redis::RedisError),
    /// Redis stayed unreachable while the worker was stopping.
    GaveUp,
}

/// Whether an error says Redis is unreachable or busy for now (so the same
/// write may succeed later), rather than that it refuses this write.
fn is_transient(err: &redis::RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_timeout()
        || matches!(
            err.code(),
            Some(
                "LOADING"
                    | "BUSY"
                    | "OOM"
                    | "READONLY"
                    | "MASTERDOWN"
                    | "CLUSTERDOWN"
                    | "TRYAGAIN"
                    | "MOVED"
                    | "ASK"
                    | "NOREPLICAS"
            )
        )
}

/// Whether an error says the stream's consumer group is gone.
fn is_nogroup(err: &redis::RedisError) -> bool {
    err.code() == Some("NOGROUP") || err.to_string().contains("NOGROUP")
}

struct WorkerScripts {
    fetch: Script,
    promote: Script,
    finish: Script,
    retry: Script,
    dead_letter: Script,
    renew: Script,
    release: Script,
    retire: Script,
}

/// One worker run.
pub struct Engine {
    config: WorkerConfig,
    keys: QueueKeys,
    bridge: Arc<Bridge>,
    local: Mutex<Local>,
    slot_freed: Notify,
    /// The heartbeat saw another worker's heartbeat expire.
    worker_gone: Notify,
    actions: mpsc::UnboundedSender<Action>,
    in_finisher: AtomicUsize,
    stop: watch::Sender<bool>,
    scripts: WorkerScripts,
    started_ms: i64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("worker_id", &self.config.worker_id)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Starts a worker run: creates the consumer groups, then spawns the
    /// fetcher and the background tasks on the current tokio runtime.
    pub async fn start(
        config: WorkerConfig,
        queue: &str,
        bridge: Arc<Bridge>,
        conn: Conn,
        reader: Conn,
    ) -> Result<Arc<Self>, CoreError> {
        let (engine, receiver) = Self::new(config, queue, bridge);
        create_groups(&engine.keys, &mut conn.clone()).await?;
        tokio::spawn(Arc::clone(&engine).finisher(conn.clone(), receiver));
        tokio::spawn(Arc::clone(&engine).promoter(conn.clone()));
        tokio::spawn(Arc::clone(&engine).reclaimer(conn.clone()));
        tokio::spawn(Arc::clone(&engine).renewer(conn.clone()));
        tokio::spawn(Arc::clone(&engine).abort_poller(conn.clone()));
        tokio::spawn(Arc::clone(&engine).heartbeat(conn.clone()));
        tokio::spawn(Arc::clone(&engine).fetcher(conn, reader));
        Ok(engine)
    }

    /// An engine that runs nothing yet, and the receiving end of its writes.
    fn new(
        config: WorkerConfig,
        queue: &str,
        bridge: Arc<Bridge>,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Action>) {
        let (actions, receiver) = mpsc::unbounded_channel();
        let (stop, _) = watch::channel(false);
        let engine = Arc::new(Self {
            config,
            keys: QueueKeys::new(queue),
            bridge,
            local: Mutex::new(Local::default()),
            slot_freed: Notify::new(),
            worker_gone: Notify::new(),
            actions,
            in_finisher: AtomicUsize::new(0),
            stop,
            scripts: WorkerScripts {
                fetch: Script::new(scripts::FETCH),
                promote: Script::new(scripts::PROMOTE),
                finish: Script::new(scripts::FINISH),
                retry: Script::new(scripts::RETRY),
                dead_letter: Script::new(scripts::DEAD_LETTER),
                renew: Script::new(scripts::RENEW),
                release: Script::new(scripts::RELEASE),
                retire: Script::new(scripts::RETIRE),
            },
            started_ms: now_ms(),
        });
        (engine, receiver)
    }

    fn log(&self, level: u8, message: String) {
        self.bridge.log(level, message);
    }

    async fn sleep_or_stop(&self, duration: Duration) -> bool {
        let mut stop = self.stop.subscribe();
        if *stop.borrow() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(duration) => false,
            _ = stop.changed() => true,
        }
    }

    fn ttl_of(&self, job: &Job) -> u64 {
        job.result_ttl_ms.unwrap_or_else(|| {
            self.config
                .tasks
                .get(&job.task)
                .map_or(DEFAULT_RESULT_TTL_MS, |t| t.result_ttl_ms)
        })
    }

    /// Stop fetching and hand back what has not started; running jobs go on.
    pub fn request_stop(&self) {
        self.abandon_waiting();
        self.slot_freed.notify_waiters();
        self.slot_freed.notify_one();
    }

    /// Hand back every job not started yet.
    pub fn abandon_waiting(&self) {
        let released: Vec<Held> = {
            let mut local = self.local.lock().expect("local");
            local.stopping = true;
            let waiting: Vec<u64> = local.waiting.iter().flatten().copied().collect();
            waiting
                .into_iter()
                .filter_map(|h| local.remove(h))
                .collect()
        };
        for held in released {
            self.send(Action::Release {
                priority: held.priority,
                entry_id: held.entry_id,
                job_id: held.job.id,
            });
        }
        self.check_exit();
    }

    fn send(&self, action: Action) {
        self.in_finisher.fetch_add(1, Ordering::SeqCst);
        if self.actions.send(action).is_err() {
            self.in_finisher.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Ends the run once stopping, nothing is held and every write is done.
    fn check_exit(&self) {
        let done = {
            let local = self.local.lock().expect("local");
            local.stopping && local.held.is_empty()
        } && self.in_finisher.load(Ordering::SeqCst) == 0;
        if done && !self.stop.send_replace(true) {
            self.bridge.worker_exit(None);
        }
    }

    /// Moves waiting jobs to Python while slots are free.
    fn dispatch(&self) {
        let mut start = Vec::new();
        {
            let mut local = self.local.lock().expect("local");
            // A stopping worker starts nothing new.
            while !local.stopping && local.running < self.config.concurrency {
                let Some(handle) = local.next_waiting() else {
                    break;
                };
                local.running += 1;
                let held = local.held.get_mut(&handle).expect("waiting job is held");
                held.running = true;
                held.started_ms = now_ms();
                let (args, kwargs) = held.values.take().unwrap_or_default();
                let timeout_ms = held.job.timeout_ms.or_else(|| {
                    self.config
                        .tasks
                        .get(&held.job.task)
                        .and_then(|t| t.timeout_ms)
                });
                start.push(StartJob {
                    handle,
                    task: held.job.task.clone(),
                    args,
                    kwargs,
                    job_id: held.job.id.clone(),
                    attempt: held.job.attempt,
                    timeout_ms: timeout_ms.filter(|&t| t > 0),
                });
            }
        }
        self.bridge.start(start);
    }

    /// Python reports finished runs.
    pub fn report(&self, outcomes: Vec<(u64, Outcome)>) {
        let now = now_ms();
        for (handle, outcome) in outcomes {
            let Some(held) = self.local.lock().expect("local").remove(handle) else {
                continue; // lost to a reclaim, or already handled
            };
            let action = self.outcome_action(held, outcome, now);
            self.send(action);
        }
        self.slot_freed.notify_one();
        self.dispatch();
        self.check_exit();
    }

    fn outcome_action(&self, held: Held, outcome: Outcome, now: i64) -> Action {
        let Held {
            job,
            entry_id,
            priority,
            started_ms,
            ..
        } = held;
        let status = |job: &Job, state: State, value: Vec<u8>, error: Option<WireError>| Status {
            spec_version: SPEC_VERSION.to_owned(),
            state: state as i32,
            value,
            error,
            attempts: job.attempt + 1,
            enqueued_ms: job.enqueued_ms,
            started_ms,
            finished_ms: now,
            worker_id: self.config.worker_id.clone(),
            task: job.task.clone(),
        };
        let finish = |job: Job, record: Status| {
            Action::Finish(FinishItem {
                priority,
                entry_id: entry_id.clone(),
                ttl_ms: self.ttl_of(&job),
                job,
                status: record.encode_to_vec(),
            })
        };
        match outcome {
            Outcome::Complete(value) => {
                self.local.lock().expect("local").completed += 1;
                if value.len() > MAX_RECORD_BYTES {
                    let error = WireError {
                        r#type: "ResultTooLarge".into(),
                        message: format!(
                            "return value of {} bytes is over the limit of {MAX_RECORD_BYTES}",
                            value.len()
                        ),
                        traceback: String::new(),
                    };
                    let record = status(&job, State::Failed, Vec::new(), Some(error));
                    return finish(job, record);
                }
                let record = status(&job, State::Complete, value, None);
                finish(job, record)
            }
            Outcome::Failed {
                error,
                retry_delay_ms,
                retryable,
            } => {
                let task = self.config.tasks.get(&job.task);
                let max_retries = job
                    .max_retries
                    .unwrap_or_else(|| task.map_or(0, |t| t.retries));
                if retryable && job.attempt < max_retries {
                    let base = job
                        .backoff_ms
                        .unwrap_or_else(|| task.map_or(1_000, |t| t.backoff_ms));
                    let delay = retry_delay_ms.unwrap_or_else(|| {
                        backoff_ms(base, job.attempt, rand::rng().random::<f64>())
                    });
                    self.log(
                        20,
                        format!(
                            "job {} ({}) failed with {}: retry {} of {max_retries} in {delay} ms",
                            job.id,
                            job.task,
                            error.r#type,
                            job.attempt + 1
                        ),
                    );
                    let aborted = WireError {
                        r#type: "JobAborted".into(),
                        message: "aborted while it ran".into(),
                        traceback: String::new(),
                    };
                    let aborted = status(&job, State::Aborted, Vec::new(), Some(aborted));
                    let ttl_ms = self.ttl_of(&job);
                    let mut next = job;
                    next.attempt += 1;
                    next.due_ms = now.saturating_add(delay.min(MAX_DURATION_MS as u64) as i64);
                    return Action::Retry {
                        priority,
                        entry_id,
                        due_ms: next.due_ms,
                        aborted: aborted.encode_to_vec(),
                        ttl_ms,
                        job: next,
                    };
                }
                self.local.lock().expect("local").failed += 1;
                let record = status(&job, State::Failed, Vec::new(), Some(error));
                finish(job, record)
            }
            Outcome::Aborted => {
                let error = WireError {
                    r#type: "JobAborted".into(),
                    message: "aborted while it ran".into(),
                    traceback: String::new(),
                };
                let record = status(&job, State::Aborted, Vec::new(), Some(error));
                finish(job, record)
            }
            Outcome::Interrupted => Action::Release {
                priority,
                entry_id,
                job_id: job.id,
            },
        }
    }

    /// Turns fetched or reclaimed entries into held jobs (or dead letters).
    /// `fetched`: for entries `fetch.lua` read, the ids it found aborted (it
    /// has recorded them all in `running`); `None` for entries read or
    /// reclaimed otherwise, which this records and checks itself.
    async fn accept(
        &self,
        conn: &mut Conn,
        entries: Vec<(u32, StreamId)>,
        dispatch: bool,
        fetched: Option<HashSet<String>>,
    ) {
        let now = now_ms();
        let mut good = Vec::new();
        for (priority, entry) in entries {
            if self
                .local
                .lock()
                .expect("local")
                .by_entry
                .contains(&(priority, entry.id.clone()))
            {
                continue;
            }
            match validate(&entry, &self.config.tasks) {
                Ok(accepted) => good.push((priority, entry.id, accepted)),
                Err(rejection) => {
                    let raw = field(&entry, "job").unwrap_or_default().to_vec();
                    self.dead_letter(priority, entry.id, rejection, raw, None);
                }
            }
        }
        if good.is_empty() {
            return;
        }
        let ids: Vec<&str> = good.iter().map(|(_, _, a)| a.job.id.as_str()).collect();
        let aborted = match fetched {
            Some(aborted) => ids.iter().map(|id| aborted.contains(*id)).collect(),
            None => self.register(conn, &ids).await,
        };
        {
            let mut local = self.local.lock().expect("local");
            for ((priority, entry_id, accepted), is_aborted) in good.into_iter().zip(aborted) {
                let handle = local.next_handle;
                local.next_handle += 1;
                local.by_entry.insert((priority, entry_id.clone()));
                let held = Held {
                    job: accepted.job,
                    entry_id,
                    priority,
                    fetched: Instant::now(),
                    started_ms: 0,
                    running: false,
                    cancel_sent: false,
                    values: Some((accepted.args, accepted.kwargs)),
                };
                if is_aborted {
                    let action = self.outcome_action(held, Outcome::Aborted, now);
                    if let Action::Finish(item) = &action {
                        local.by_entry.remove(&(priority, item.entry_id.clone()));
                    }
                    drop(local);
                    self.send(action);
                    local = self.local.lock().expect("local");
                    continue;
                }
                local.held.insert(handle, held);
                local.waiting[priority as usize].push_back(handle);
            }
        }
        if dispatch {
            self.dispatch();
        }
    }

    /// Records `ids` in `running` for this worker and returns which of them
    /// have an abort request (one round trip).
    async fn register(&self, conn: &mut Conn, ids: &[&str]) -> Vec<bool> {
        let mut pipe = redis::pipe();
        pipe.cmd("SMISMEMBER").arg(self.keys.abort()).arg(ids);
        let mut hset = redis::cmd("HSET");
        hset.arg(self.keys.running());
        for id in ids {
            hset.arg(*id).arg(&self.config.worker_id);
        }
        pipe.add_command(hset).ignore();
        match pipe.query_async::<(Vec<bool>,)>(conn).await {
            Ok((flags,)) => flags,
            Err(err) => {
                self.log(
                    30,
                    format!("abort check failed, running the batch anyway: {err}"),
                );
                vec![false; ids.len()]
            }
        }
    }

    fn dead_letter(
        &self,
        priority: u32,
        entry_id: String,
        rejection: Rejection,
        raw: Vec<u8>,
        error: Option<WireError>,
    ) {
        let dead = self.dead_item(priority, entry_id, rejection, raw, error);
        self.send(Action::Dead(dead));
    }

    /// The dead letter and DEAD status of an entry that must not run.
    fn dead_item(
        &self,
        priority: u32,
        entry_id: String,
        rejection: Rejection,
        raw: Vec<u8>,
        error: Option<WireError>,
    ) -> DeadItem {
        let now = now_ms();
        self.log(
            30,
            format!(
                "dead-lettering entry {entry_id} (job {:?}, task {:?}): {}: {}",
                rejection.job_id, rejection.task, rejection.reason, rejection.detail
            ),
        );
        let record = DeadLetter {
            spec_version: SPEC_VERSION.to_owned(),
            job_id: rejection.job_id.clone(),
            task: rejection.task.clone(),
            reason: rejection.reason.to_owned(),
            detail: rejection.detail.clone(),
            job: raw,
            stream_id: entry_id.clone(),
            dead_ms: now,
            worker_id: self.config.worker_id.clone(),
            error: error.clone(),
        };
        // SPEC.md section 6: the reason code first, then the detail.
        let status = Status {
            spec_version: SPEC_VERSION.to_owned(),
            state: State::Dead as i32,
            error: Some(WireError {
                r#type: "DeadLetter".into(),
                message: format!("{}: {}", rejection.reason, rejection.detail),
                traceback: error.map(|e| e.traceback).unwrap_or_default(),
            }),
            finished_ms: now,
            worker_id: self.config.worker_id.clone(),
            task: rejection.task.clone(),
            ..Status::default()
        };
        DeadItem {
            priority,
            entry_id,
            job_id: rejection.job_id,
            task: rejection.task,
            reason: rejection.reason,
            record: record.encode_to_vec(),
            status: status.encode_to_vec(),
            // The default TTL: the job's own may be what was wrong with it.
            ttl_ms: DEFAULT_RESULT_TTL_MS,
        }
    }

    /// One `XREADGROUP` of up to `count` new entries from `streams`,
    /// blocking up to `block_ms` when given.
    fn read_cmd(&self, streams: &[String], count: usize, block_ms: Option<u64>) -> redis::Cmd {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(&self.config.worker_id)
            .arg("COUNT")
            .arg(count);
        if let Some(block_ms) = block_ms {
            cmd.arg("BLOCK").arg(block_ms);
        }
        cmd.arg("STREAMS").arg(streams);
        for _ in streams {
            cmd.arg(">");
        }
        cmd
    }

    fn entries_of(reply: Option<StreamReadReply>) -> impl Iterator<Item = (u32, StreamId)> {
        reply
            .map(|r| r.keys)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|stream| {
                let priority = stream
                    .key
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse::<u32>().ok())
                    .unwrap_or(0)
                    .min(PRIORITY_LEVELS - 1);
                stream.ids.into_iter().map(move |entry| (priority, entry))
            })
    }

    async fn read(
        &self,
        reader: &mut Conn,
        streams: &[String],
        count: usize,
        block_ms: Option<u64>,
    ) -> Result<Vec<(u32, StreamId)>, redis::RedisError> {
        let reply: Option<StreamReadReply> = self
            .read_cmd(streams, count, block_ms)
            .query_async(reader)
            .await?;
        Ok(Self::entries_of(reply).collect())
    }

    /// Reads up to `want` entries level by level, highest priority first,
    /// records them in `running` and returns them with the ids that have an
    /// abort request (`fetch.lua`: one round trip for the whole pass).
    async fn read_by_priority(
        &self,
        reader: &mut Conn,
        streams: &[String],
        want: usize,
    ) -> Result<(Vec<(u32, StreamId)>, HashSet<String>), redis::RedisError> {
        let mut fetch = self.scripts.fetch.key(self.keys.running());
        fetch.key(self.keys.abort());
        for stream in streams {
            fetch.key(stream);
        }
        fetch.arg(GROUP).arg(&self.config.worker_id).arg(want);
        let (reply, aborted): (StreamReadReply, Vec<String>) = fetch.invoke_async(reader).await?;
        Ok((
            Self::entries_of(Some(reply)).collect(),
            aborted.into_iter().collect(),
        ))
    }

    async fn fetcher(self: Arc<Self>, mut conn: Conn, mut reader: Conn) {
        let streams = self.keys.streams_high_to_low();
        // Burst mode ends after two empty reads around a drained check, so a
        // job the promoter moved in between is not left behind.
        let mut drained_once = false;
        loop {
            let want = {
                let local = self.local.lock().expect("local");
                if local.stopping {
                    break;
                }
                (self.config.concurrency + self.config.prefetch).saturating_sub(local.held.len())
            };
            if want == 0 {
                // Jobs a wake-up read left waiting start now that no read is due.
                self.dispatch();
                self.slot_freed.notified().await;
                continue;
            }
            let (entries, aborted) = match self.read_by_priority(&mut reader, &streams, want).await
            {
                Ok(read) => read,
                Err(err) => {
                    if self.read_failed(&mut conn, &err).await {
                        break;
                    }
                    continue;
                }
            };
            if !entries.is_empty() {
                drained_once = false;
                self.accept(&mut conn, entries, true, Some(aborted)).await;
                continue;
            }
            if self.config.burst {
                if self.burst_drained(&mut conn).await {
                    if drained_once {
                        break;
                    }
                    drained_once = true;
                } else {
                    drained_once = false;
                }
                continue;
            }
            // Nothing more to read: start what a wake-up read left waiting.
            self.dispatch();
            // Idle: wait on every level at once. What this wakes up with is
            // held, not started, until the next pass has read the higher
            // levels too.
            match self
                .read(&mut reader, &streams, 1, Some(self.config.block_ms))
                .await
            {
                Ok(woken) if !woken.is_empty() => self.accept(&mut conn, woken, false, None).await,
                Ok(_) => {}
                Err(err) => {
                    if self.read_failed(&mut conn, &err).await {
                        break;
                    }
                }
            }
        }
        self.request_stop();
    }

    /// After a failed read: a missing consumer group (Redis lost its data)
    /// is created again at once; other errors wait a second. True when the
    /// worker is stopping meanwhile.
    async fn read_failed(&self, conn: &mut Conn, err: &redis::RedisError) -> bool {
        if is_nogroup(err) {
            self.log(
                30,
                format!("the consumer groups of queue {:?} are gone (Redis lost its data?): creating them again", self.keys.queue()),
            );
            match create_groups(&self.keys, conn).await {
                Ok(()) => return false,
                Err(err) => self.log(40, format!("creating the consumer groups failed: {err}")),
            }
        } else {
            self.log(40, format!("fetching failed, retrying in 1 s: {err}"));
        }
        self.sleep_or_stop(Duration::from_secs(1)).await
    }

    /// In burst mode: true once nothing is held, every write is done and no
    /// delayed job is due.
    async fn burst_drained(&self, conn: &mut Conn) -> bool {
        loop {
            let busy = !self.local.lock().expect("local").held.is_empty()
                || self.in_finisher.load(Ordering::SeqCst) > 0;
            if !busy {
                break;
            }
            tokio::select! {
                () = self.slot_freed.notified() => {},
                () = tokio::time::sleep(Duration::from_millis(20)) => {},
            }
        }
        match self.promote_once(conn).await {
            Ok((moved, _)) => moved == 0,
            Err(err) => {
                self.log(40, format!("promoting delayed jobs failed: {err}"));
                false
            }
        }
    }

    async fn promote_once(&self, conn: &mut Conn) -> Result<(i64, i64), redis::RedisError> {
        let mut invocation = self.scripts.promote.key(self.keys.delayed());
        invocation.key(self.keys.delayed_jobs());
        for stream in self.keys.streams_low_to_high() {
            invocation.key(stream);
        }
        invocation.arg(now_ms()).arg(1000).invoke_async(conn).await
    }

    async fn promoter(self: Arc<Self>, mut conn: Conn) {
        let interval = self.config.promote_interval_ms;
        loop {
            let pause = match self.promote_once(&mut conn).await {
                Ok((moved, _)) if moved >= 1000 => 0,
                Ok((_, next_due)) => {
                    let jitter = rand::rng().random_range(0..=interval / 10);
                    let until_due = if next_due < 0 {
                        interval
                    } else {
                        (next_due - now_ms()).max(0) as u64
                    };
                    until_due.min(interval) + jitter
                }
                Err(err) => {
                    self.log(40, format!("promoting delayed jobs failed: {err}"));
                    1000
                }
            };
            if self.sleep_or_stop(Duration::from_millis(pause)).await {
                return;
            }
        }
    }

    /// Free room for more entries: concurrency plus prefetch, minus what is held.
    fn room(&self) -> usize {
        let local = self.local.lock().expect("local");
        if local.stopping {
            return 0;
        }
        (self.config.concurrency + self.config.prefetch).saturating_sub(local.held.len())
    }

    async fn reclaimer(self: Arc<Self>, mut conn: Conn) {
        let period = self.config.visibility_ms / 2;
        let mut boost_until: Option<Instant> = None;
        let mut last_retire: Option<Instant> = None;
        loop {
            let more = match self.reclaim_once(&mut conn).await {
                Ok(more) => more,
                Err(err) => {
                    if is_nogroup(&err) {
                        let _ = create_groups(&self.keys, &mut conn).await;
                    }
                    self.log(40, format!("reclaiming failed: {err}"));
                    false
                }
            };
            if last_retire.is_none_or(|at| at.elapsed().as_millis() >= u128::from(period)) {
                last_retire = Some(Instant::now());
                if let Err(err) = self.retire_gone(&mut conn).await {
                    self.log(
                        30,
                        format!("removing gone workers' consumers failed: {err}"),
                    );
                }
            }
            // Room ran out with idle entries left: go on as slots free.
            // After a worker was seen gone: pass often until its entries
            // have come due. Else: every half visibility timeout.
            let boosted = boost_until.is_some_and(|until| Instant::now() < until);
            let pause = if more {
                Duration::from_millis(50)
            } else if boosted {
                Duration::from_millis((self.config.visibility_ms / 10).max(50))
            } else {
                let jitter = rand::rng().random_range(0..=period / 5 + 1);
                Duration::from_millis(period + jitter)
            };
            let mut stop = self.stop.subscribe();
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.worker_gone.notified() => {
                    boost_until = Some(
                        Instant::now() + Duration::from_millis(self.config.visibility_ms + period),
                    );
                }
                _ = stop.changed() => return,
            }
        }
    }

    /// One reclaim pass over every level, highest first: follows each
    /// level's `XAUTOCLAIM` cursor until nothing more is idle past the
    /// visibility timeout or this worker has no room left. True when room
    /// ran out before the levels were drained.
    async fn reclaim_once(&self, conn: &mut Conn) -> Result<bool, redis::RedisError> {
        for priority in (0..PRIORITY_LEVELS).rev() {
            let stream = self.keys.stream(priority);
            let mut cursor = "0-0".to_owned();
            loop {
                let room = self.room();
                if room == 0 {
                    return Ok(true);
                }
                let claimed: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                    .arg(&stream)
                    .arg(GROUP)
                    .arg(&self.config.worker_id)
                    .arg(self.config.visibility_ms)
                    .arg(&cursor)
                    .arg("COUNT")
                    .arg(room.min(MAX_BATCH))
                    .query_async(conn)
                    .await?;
                if !claimed.claimed.is_empty() {
                    self.take_reclaimed(conn, priority, &stream, claimed.claimed)
                        .await?;
                }
                if claimed.next_stream_id == "0-0" {
                    break;
                }
                cursor = claimed.next_stream_id;
            }
        }
        Ok(false)
    }

    /// Runs reclaimed entries again, or dead-letters those delivered more
    /// than the delivery limit.
    async fn take_reclaimed(
        &self,
        conn: &mut Conn,
        priority: u32,
        stream: &str,
        claimed: Vec<StreamId>,
    ) -> Result<(), redis::RedisError> {
        let mut first = &claimed[0].id;
        let mut last = first;
        for entry in &claimed {
            if stream_id_before(&entry.id, first) {
                first = &entry.id;
            }
            if stream_id_before(last, &entry.id) {
                last = &entry.id;
            }
        }
        let pending: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(stream)
            .arg(GROUP)
            .arg(first)
            .arg(last)
            .arg(claimed.len() + self.config.concurrency + self.config.prefetch)
            .arg(&self.config.worker_id)
            .query_async(conn)
            .await?;
        let deliveries: HashMap<String, usize> = pending
            .ids
            .into_iter()
            .map(|p| (p.id, p.times_delivered))
            .collect();
        self.log(
            30,
            format!(
                "reclaimed {} entries of stream {stream} idle past the visibility timeout",
                claimed.len()
            ),
        );
        let mut runnable = Vec::new();
        for entry in claimed {
            let delivered = deliveries.get(&entry.id).copied().unwrap_or(0) as u64;
            if delivered > self.config.max_deliveries {
                let text =
                    |name| field(&entry, name).map(|b| String::from_utf8_lossy(b).into_owned());
                let rejection = Rejection {
                    reason: "delivery_limit",
                    detail: format!(
                        "delivered {delivered} times, over the limit of {}: every run ended its worker",
                        self.config.max_deliveries
                    ),
                    job_id: text("id").unwrap_or_default(),
                    task: text("task").unwrap_or_default(),
                };
                let raw = field(&entry, "job").unwrap_or_default().to_vec();
                self.dead_letter(priority, entry.id, rejection, raw, None);
            } else {
                runnable.push((priority, entry));
            }
        }
        self.accept(conn, runnable, true, None).await;
        Ok(())
    }

    /// Deletes the consumers of gone workers (no heartbeat key) that hold
    /// nothing on a level (`retire.lua`); candidates are consumers other
    /// than this worker, with no pending entry, idle past the visibility
    /// timeout.
    async fn retire_gone(&self, conn: &mut Conn) -> Result<(), redis::RedisError> {
        let mut pipe = redis::pipe();
        for stream in self.keys.streams_low_to_high() {
            pipe.cmd("XINFO").arg("CONSUMERS").arg(stream).arg(GROUP);
        }
        let levels: Vec<Vec<HashMap<String, RedisValue>>> = pipe.query_async(conn).await?;
        for (priority, consumers) in levels.into_iter().enumerate() {
            let candidates: Vec<String> = consumers
                .iter()
                .filter_map(|info| {
                    let name: String = redis::from_redis_value(info.get("name")?).ok()?;
                    let pending: u64 = redis::from_redis_value(info.get("pending")?).ok()?;
                    let idle: u64 = redis::from_redis_value(info.get("idle")?).ok()?;
                    (name != self.config.worker_id
                        && pending == 0
                        && idle > self.config.visibility_ms)
                        .then_some(name)
                })
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let mut call = self.scripts.retire.key(self.keys.stream(priority as u32));
            call.arg(GROUP);
            for name in &candidates {
                call.key(self.keys.worker(name)).arg(name);
            }
            let retired: Vec<String> = call.invoke_async(conn).await?;
            if !retired.is_empty() {
                self.log(
                    20,
                    format!(
                        "removed {} consumers of gone workers from stream {}",
                        retired.len(),
                        self.keys.stream(priority as u32)
                    ),
                );
            }
        }
        Ok(())
    }

    async fn renewer(self: Arc<Self>, mut conn: Conn) {
        let period = Duration::from_millis((self.config.visibility_ms / 3).max(1));
        loop {
            if self.sleep_or_stop(period).await {
                return;
            }
            let mut by_stream: HashMap<u32, Vec<(u64, String)>> = HashMap::new();
            {
                let local = self.local.lock().expect("local");
                for (&handle, held) in &local.held {
                    by_stream
                        .entry(held.priority)
                        .or_default()
                        .push((handle, held.entry_id.clone()));
                }
            }
            for (priority, held) in by_stream {
                let mut invocation = self.scripts.renew.key(self.keys.stream(priority));
                invocation.arg(GROUP).arg(&self.config.worker_id);
                for (_, entry_id) in &held {
                    invocation.arg(entry_id);
                }
                let owned: Vec<String> = match invocation.invoke_async(&mut conn).await {
                    Ok(owned) => owned,
                    Err(err) => {
                        self.log(40, format!("renewing ownership failed: {err}"));
                        continue;
                    }
                };
                let owned: HashSet<String> = owned.into_iter().collect();
                let mut cancels = Vec::new();
                {
                    let mut local = self.local.lock().expect("local");
                    for (handle, entry_id) in held {
                        if owned.contains(&entry_id) {
                            continue;
                        }
                        if let Some(lost) = local.remove(handle) {
                            if lost.running {
                                cancels.push((handle, CancelReason::Lost));
                            }
                            self.log(
                                30,
                                format!(
                                    "lost entry {entry_id} (job {}) to another worker",
                                    lost.job.id
                                ),
                            );
                        }
                    }
                }
                self.bridge.cancel(cancels);
            }
            self.dispatch();
            self.check_exit();
        }
    }

    async fn abort_poller(self: Arc<Self>, mut conn: Conn) {
        loop {
            if self.sleep_or_stop(ABORT_POLL).await {
                return;
            }
            let held: Vec<(u64, String)> = {
                let local = self.local.lock().expect("local");
                local
                    .held
                    .iter()
                    .map(|(&h, held)| (h, held.job.id.clone()))
                    .collect()
            };
            if held.is_empty() {
                continue;
            }
            let flags: Vec<bool> = match redis::cmd("SMISMEMBER")
                .arg(self.keys.abort())
                .arg(held.iter().map(|(_, id)| id.as_str()).collect::<Vec<_>>())
                .query_async(&mut conn)
                .await
            {
                Ok(flags) => flags,
                Err(err) => {
                    self.log(40, format!("checking abort requests failed: {err}"));
                    continue;
                }
            };
            let now = now_ms();
            let mut cancels = Vec::new();
            let mut actions = Vec::new();
            {
                let mut local = self.local.lock().expect("local");
                for ((handle, _), aborted) in held.into_iter().zip(flags) {
                    if !aborted {
                        continue;
                    }
                    let Some(held) = local.held.get_mut(&handle) else {
                        continue;
                    };
                    if held.running {
                        if !held.cancel_sent {
                            held.cancel_sent = true;
                            cancels.push((handle, CancelReason::Aborted));
                        }
                    } else if let Some(held) = local.remove(handle) {
                        actions.push(held);
                    }
                }
            }
            for held in actions {
                let action = self.outcome_action(held, Outcome::Aborted, now);
                self.send(action);
            }
            self.bridge.cancel(cancels);
            self.check_exit();
        }
    }

    async fn heartbeat(self: Arc<Self>, mut conn: Conn) {
        let period = self.config.heartbeat_ms;
        let mut known_gone: HashSet<String> = HashSet::new();
        loop {
            let (running, completed, failed) = {
                let local = self.local.lock().expect("local");
                (local.running as u32, local.completed, local.failed)
            };
            let now = now_ms();
            let beat = Heartbeat {
                spec_version: SPEC_VERSION.to_owned(),
                worker_id: self.config.worker_id.clone(),
                hostname: self.config.hostname.clone(),
                pid: self.config.pid,
                started_ms: self.started_ms,
                seen_ms: now,
                concurrency: self.config.concurrency as u32,
                running,
                completed,
                failed,
                queues: vec![self.keys.queue().to_owned()],
            };
            let result: Result<(Vec<String>,), redis::RedisError> = redis::pipe()
                .cmd("SET")
                .arg(self.keys.worker(&self.config.worker_id))
                .arg(beat.encode_to_vec())
                .arg("PX")
                .arg(period * 3)
                .ignore()
                .cmd("ZADD")
                .arg(self.keys.workers())
                .arg(now)
                .arg(&self.config.worker_id)
                .ignore()
                .cmd("ZREMRANGEBYSCORE")
                .arg(self.keys.workers())
                .arg("-inf")
                .arg(now - 60_000)
                .ignore()
                .cmd("ZRANGEBYSCORE")
                .arg(self.keys.workers())
                .arg("-inf")
                .arg(now - 3 * period as i64)
                .query_async(&mut conn)
                .await;
            match result {
                // Workers whose heartbeat expired: gone. A new one starts
                // this worker's reclaimer on their entries at once.
                Ok((gone,)) => {
                    let gone: HashSet<String> = gone.into_iter().collect();
                    if gone.iter().any(|id| !known_gone.contains(id)) {
                        self.worker_gone.notify_one();
                    }
                    known_gone = gone;
                }
                Err(err) => self.log(30, format!("heartbeat failed: {err}")),
            }
            if self.sleep_or_stop(Duration::from_millis(period)).await {
                let _: Result<(), redis::RedisError> = redis::pipe()
                    .cmd("DEL")
                    .arg(self.keys.worker(&self.config.worker_id))
                    .ignore()
                    .cmd("ZREM")
                    .arg(self.keys.workers())
                    .arg(&self.config.worker_id)
                    .ignore()
                    .query_async(&mut conn)
                    .await;
                return;
            }
        }
    }

    /// Writes what runs produced, in batches: one `finish.lua` call for every
    /// terminal status ready at the same moment.
    async fn finisher(
        self: Arc<Self>,
        mut conn: Conn,
        mut receiver: mpsc::UnboundedReceiver<Action>,
    ) {
        while let Some(first) = receiver.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(action) => batch.push(action),
                    Err(_) => break,
                }
            }
            let count = batch.len();
            self.store(&mut conn, batch).await;
            self.in_finisher.fetch_sub(count, Ordering::SeqCst);
            self.slot_freed.notify_one();
            self.check_exit();
        }
    }

    /// Stores one batch of actions. Returns once each is written, refused
    /// (and then dead-lettered), or given up after Redis stayed unreachable
    /// while stopping (its entry stays pending and is reclaimed).
    async fn store(&self, conn: &mut Conn, batch: Vec<Action>) {
        let mut finishes = Vec::new();
        let mut releases: BTreeMap<u32, Vec<(String, String)>> = BTreeMap::new();
        let mut others = Vec::new();
        for action in batch {
            match action {
                Action::Finish(item) => finishes.push(item),
                Action::Release {
                    priority,
                    entry_id,
                    job_id,
                } => releases
                    .entry(priority)
                    .or_default()
                    .push((entry_id, job_id)),
                other => others.push(other),
            }
        }
        if !finishes.is_empty() {
            self.store_finishes(conn, finishes).await;
        }
        for action in others {
            match action {
                Action::Retry {
                    priority,
                    entry_id,
                    due_ms,
                    job,
                    aborted,
                    ttl_ms,
                } => {
                    let record = job.encode_to_vec();
                    let stored = self
                        .persist("scheduling a retry", conn, |mut conn| {
                            let mut call = self.scripts.retry.key(self.keys.stream(priority));
                            call.key(self.keys.job(&job.id))
                                .key(self.keys.delayed())
                                .key(self.keys.delayed_jobs())
                                .key(self.keys.running())
                                .key(self.keys.abort())
                                .arg(GROUP)
                                .arg(&self.config.worker_id)
                                .arg(&entry_id)
                                .arg(&job.id)
                                .arg(due_ms)
                                .arg(record.as_slice())
                                .arg(aborted.as_slice())
                                .arg(ttl_ms);
                            async move { call.invoke_async::<i64>(&mut conn).await }
                        })
                        .await;
                    match stored {
                        Ok(-1) => self.log_lost(&job.id, &entry_id),
                        Ok(_) | Err(Stored::GaveUp) => {}
                        Err(Stored::Refused(err)) => {
                            self.store_unstorable(conn, priority, entry_id, &job, &err)
                                .await;
                        }
                    }
                }
                Action::Dead(dead) => self.store_dead(conn, &dead).await,
                Action::Finish(_) | Action::Release { .. } => unreachable!("sorted out above"),
            }
        }
        for (priority, entries) in releases {
            let stored = self
                .persist("handing back unfinished jobs", conn, |mut conn| {
                    let mut call = self.scripts.release.key(self.keys.stream(priority));
                    call.key(self.keys.running())
                        .arg(GROUP)
                        .arg(&self.config.worker_id)
                        .arg(HANDED_BACK_IDLE_MS);
                    for (entry_id, job_id) in &entries {
                        call.arg(entry_id).arg(job_id);
                    }
                    async move { call.invoke_async::<Vec<String>>(&mut conn).await }
                })
                .await;
            if let Err(Stored::Refused(err)) = stored {
                self.log(
                    40,
                    format!("handing back {} jobs failed: {err}", entries.len()),
                );
            }
        }
    }

    /// Runs one write, again after a pause while the error says Redis is
    /// unreachable or busy. Gives up on those only when stopping, after
    /// about 10 s; any other error is the write's own (`Refused`).
    async fn persist<T, F, Fut>(&self, what: &str, conn: &Conn, mut call: F) -> Result<T, Stored>
    where
        F: FnMut(Conn) -> Fut,
        Fut: std::future::Future<Output = Result<T, redis::RedisError>>,
    {
        let mut attempt = 0u32;
        loop {
            // A clone of the multiplexed connection is a handle, not a socket.
            let err = match call(conn.clone()).await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            if !is_transient(&err) {
                return Err(Stored::Refused(err));
            }
            attempt += 1;
            let stopping = self.local.lock().expect("local").stopping;
            if stopping && attempt > 50 {
                self.log(
                    50,
                    format!("{what}: giving up, Redis stayed unreachable ({err}); the entries stay pending and will be reclaimed"),
                );
                return Err(Stored::GaveUp);
            }
            if attempt == 1 || attempt % 25 == 0 {
                self.log(40, format!("{what} failed, retrying: {err}"));
            }
            let pause = Duration::from_millis(u64::from(attempt.min(10)) * 200);
            tokio::time::sleep(pause).await;
        }
    }

    /// Stores terminal statuses with `finish.lua`; a batch Redis refuses is
    /// split until the job it refuses is alone, and that job is
    /// dead-lettered, so one job cannot hold up the others.
    async fn store_finishes(&self, conn: &mut Conn, items: Vec<FinishItem>) {
        let mut work = vec![items];
        while let Some(chunk) = work.pop() {
            let stored = self
                .persist("storing results", conn, |mut conn| {
                    let mut call = self.scripts.finish.key(self.keys.running());
                    call.key(self.keys.abort())
                        .arg(GROUP)
                        .arg(&self.config.worker_id);
                    for item in &chunk {
                        call.key(self.keys.stream(item.priority))
                            .key(self.keys.job(&item.job.id));
                        call.arg(&item.entry_id)
                            .arg(&item.job.id)
                            .arg(item.ttl_ms)
                            .arg(item.status.as_slice());
                    }
                    async move { call.invoke_async::<Vec<String>>(&mut conn).await }
                })
                .await;
            match stored {
                Ok(lost) => {
                    for job_id in lost {
                        let entry = chunk
                            .iter()
                            .find(|item| item.job.id == job_id)
                            .map_or("", |item| item.entry_id.as_str());
                        self.log_lost(&job_id, entry);
                    }
                }
                Err(Stored::GaveUp) => {}
                Err(Stored::Refused(err)) if chunk.len() > 1 => {
                    self.log(
                        30,
                        format!(
                            "Redis refused a batch of {} results ({err}); storing it in halves",
                            chunk.len()
                        ),
                    );
                    let mut first = chunk;
                    let second = first.split_off(first.len() / 2);
                    work.push(second);
                    work.push(first);
                }
                Err(Stored::Refused(err)) => {
                    let item = chunk.into_iter().next().expect("a chunk of one");
                    self.store_unstorable(conn, item.priority, item.entry_id, &item.job, &err)
                        .await;
                }
            }
        }
    }

    /// Dead-letters a job whose outcome Redis refused to store.
    async fn store_unstorable(
        &self,
        conn: &mut Conn,
        priority: u32,
        entry_id: String,
        job: &Job,
        err: &redis::RedisError,
    ) {
        let rejection = Rejection {
            reason: "unstorable",
            detail: format!("Redis refused to store the job's outcome: {err}"),
            job_id: job.id.clone(),
            task: job.task.clone(),
        };
        let dead = self.dead_item(priority, entry_id, rejection, job.encode_to_vec(), None);
        self.store_dead(conn, &dead).await;
    }

    async fn store_dead(&self, conn: &mut Conn, dead: &DeadItem) {
        let stored = self
            .persist("dead-lettering a job", conn, |mut conn| {
                let mut call = self
                    .scripts
                    .dead_letter
                    .key(self.keys.stream(dead.priority));
                call.key(self.keys.dead())
                    .key(self.keys.running())
                    .key(self.keys.job(&dead.job_id))
                    .arg(GROUP)
                    .arg(&self.config.worker_id)
                    .arg(&dead.entry_id)
                    .arg(&dead.job_id)
                    .arg(&dead.task)
                    .arg(dead.reason)
                    .arg(dead.record.as_slice())
                    .arg(dead.status.as_slice())
                    .arg(dead.ttl_ms)
                    .arg(self.config.dead_maxlen);
                async move { call.invoke_async::<RedisValue>(&mut conn).await }
            })
            .await;
        match stored {
            Ok(RedisValue::Int(0)) => self.log_lost(&dead.job_id, &dead.entry_id),
            Ok(_) | Err(Stored::GaveUp) => {}
            Err(Stored::Refused(err)) => self.log(
                50,
                format!(
                    "dead-lettering entry {} (job {:?}) failed: {err}; it stays pending and will be reclaimed",
                    dead.entry_id, dead.job_id
                ),
            ),
        }
    }

    fn log_lost(&self, job_id: &str, entry_id: &str) {
        self.log(
            30,
            format!(
                "job {job_id} (entry {entry_id}) is no longer this worker's (reclaimed elsewhere, or Redis lost it): its outcome here was not written"
            ),
        );
    }

    /// Counters for the heartbeat and for Python.
    pub fn counters(&self) -> (usize, usize, u64, u64) {
        let local = self.local.lock().expect("local");
        (
            local.held.len(),
            local.running,
            local.completed,
            local.failed,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fields: &[(&str, Vec<u8>)]) -> StreamId {
        StreamId {
            id: "1-0".into(),
            map: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), RedisValue::BulkString(v.clone())))
                .collect(),
        }
    }

    fn tasks() -> HashMap<String, TaskConfig> {
        HashMap::from([(
            "add".to_owned(),
            TaskConfig {
                retries: 0,
                backoff_ms: 1000,
                timeout_ms: None,
                result_ttl_ms: 1000,
            },
        )])
    }

    fn job(version: &str, task: &str, args: Vec<u8>) -> Vec<u8> {
        Job {
            spec_version: version.into(),
            id: "j".into(),
            task: task.into(),
            args,
            ..Job::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn every_malformed_kind_gets_its_reason() {
        let reason = |e: StreamId| validate(&e, &tasks()).unwrap_err().reason;
        assert_eq!(reason(entry(&[("id", b"j".to_vec())])), "malformed_entry");
        assert_eq!(
            reason(entry(&[
                ("id", b"j".to_vec()),
                ("task", b"add".to_vec()),
                ("job", vec![0xff, 0xff])
            ])),
            "undecodable_job"
        );
        assert_eq!(
            reason(entry(&[
                ("id", b"j".to_vec()),
                ("task", b"add".to_vec()),
                ("job", job("2.0", "add", vec![]))
            ])),
            "unsupported_version"
        );
        assert_eq!(
            reason(entry(&[
                ("id", b"j".to_vec()),
                ("task", b"nope".to_vec()),
                ("job", job("1.0", "nope", vec![]))
            ])),
            "unknown_task"
        );
        assert_eq!(
            reason(entry(&[
                ("id", b"j".to_vec()),
                ("task", b"add".to_vec()),
                ("job", job("1.0", "add", vec![0x01]))
            ])),
            "undecodable_args"
        );
        assert_eq!(
            reason(entry(&[
                ("id", b"j".to_vec()),
                ("task", b"add".to_vec()),
                ("job", vec![0; MAX_RECORD_BYTES + 1])
            ])),
            "oversize"
        );
    }

    #[test]
    fn a_good_entry_decodes_its_arguments() {
        let args = ardiq_spec::value::to_vec(&Value::Array(vec![Value::Int(1), Value::Int(2)]));
        let accepted = validate(
            &entry(&[
                ("id", b"j".to_vec()),
                ("task", b"add".to_vec()),
                ("job", job("1.1", "add", args)),
            ]),
            &tasks(),
        )
        .unwrap();
        assert_eq!(accepted.args, vec![Value::Int(1), Value::Int(2)]);
    }

    #[test]
    fn backoff_doubles_is_capped_and_jitters_a_quarter() {
        assert_eq!(backoff_ms(1000, 0, 0.5), 1000);
        assert_eq!(backoff_ms(1000, 3, 0.5), 8000);
        assert_eq!(backoff_ms(1000, 3, 0.0), 6000);
        assert_eq!(backoff_ms(1000, 30, 0.5), MAX_BACKOFF_MS);
    }

    #[test]
    fn higher_priority_starts_first_and_starved_jobs_jump_ahead() {
        let mut local = Local::default();
        for (handle, priority) in [(1u64, 1u32), (2, 9), (3, 5)] {
            local.held.insert(
                handle,
                Held {
                    job: Job::default(),
                    entry_id: handle.to_string(),
                    priority,
                    fetched: Instant::now(),
                    started_ms: 0,
                    running: false,
                    cancel_sent: false,
                    values: None,
                },
            );
            local.waiting[priority as usize].push_back(handle);
        }
        assert_eq!(local.next_waiting(), Some(2));
        local.held.get_mut(&1).unwrap().fetched =
            Instant::now().checked_sub(Duration::from_secs(11)).unwrap();
        assert_eq!(local.next_waiting(), Some(1));
        assert_eq!(local.next_waiting(), Some(3));
    }

    /// Against the Redis at `REDIS_URL` (the test command provides one).
    mod against_redis {
        use super::*;
        use ardiq_client::connection::{ConnectOptions, Connection};

        fn config(worker_id: &str) -> WorkerConfig {
            WorkerConfig {
                worker_id: worker_id.into(),
                concurrency: 10,
                prefetch: 0,
                burst: false,
                visibility_ms: 30_000,
                max_deliveries: 3,
                block_ms: 100,
                promote_interval_ms: 500,
                heartbeat_ms: 5_000,
                tasks: tasks(),
                dead_maxlen: 1000,
                hostname: "test".into(),
                pid: 1,
            }
        }

        async fn connect() -> Conn {
            let url = std::env::var("REDIS_URL").expect(
                "REDIS_URL names a test Redis: run through `python tests/redis_server.py -- cargo test`",
            );
            Connection::open(&url, &ConnectOptions::default(), Duration::ZERO)
                .await
                .expect("connect to REDIS_URL")
        }

        #[tokio::test]
        async fn a_result_redis_refuses_is_dead_lettered_and_the_rest_of_the_batch_is_stored() {
            let queue = format!("engine-poison-{}", ardiq_spec::new_job_id());
            let (engine, _receiver) =
                Engine::new(config("w1"), &queue, Arc::new(Bridge::new().unwrap()));
            let mut conn = connect().await;
            create_groups(&engine.keys, &mut conn).await.unwrap();
            let stream = engine.keys.stream(5);
            let mut items = Vec::new();
            for n in 0..7 {
                let job = Job {
                    spec_version: SPEC_VERSION.into(),
                    id: format!("j{n}"),
                    task: "add".into(),
                    ..Job::default()
                };
                let entry_id: String = redis::cmd("XADD")
                    .arg(&stream)
                    .arg("*")
                    .arg("id")
                    .arg(&job.id)
                    .arg("task")
                    .arg("add")
                    .arg("job")
                    .arg(job.encode_to_vec())
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                let status = Status {
                    spec_version: SPEC_VERSION.into(),
                    state: State::Complete as i32,
                    ..Status::default()
                };
                // Job 4's TTL is one Redis refuses ("not an integer or out of range").
                let ttl_ms = if n == 4 { u64::MAX } else { 60_000 };
                items.push(FinishItem {
                    priority: 5,
                    entry_id,
                    job,
                    ttl_ms,
                    status: status.encode_to_vec(),
                });
            }
            let _: redis::Value = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(GROUP)
                .arg("w1")
                .arg("STREAMS")
                .arg(&stream)
                .arg(">")
                .query_async(&mut conn)
                .await
                .unwrap();

            engine.store_finishes(&mut conn, items).await;

            for n in [0, 1, 2, 3, 5, 6] {
                let record: Vec<u8> = redis::cmd("GET")
                    .arg(engine.keys.job(&format!("j{n}")))
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                assert_eq!(
                    Status::decode(record.as_slice()).unwrap().state,
                    State::Complete as i32
                );
            }
            let poisoned: Vec<u8> = redis::cmd("GET")
                .arg(engine.keys.job("j4"))
                .query_async(&mut conn)
                .await
                .unwrap();
            let poisoned = Status::decode(poisoned.as_slice()).unwrap();
            assert_eq!(poisoned.state, State::Dead as i32);
            assert!(poisoned.error.unwrap().message.starts_with("unstorable: "));
            let dead: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                .arg(engine.keys.dead())
                .arg("-")
                .arg("+")
                .query_async(&mut conn)
                .await
                .unwrap();
            assert_eq!(dead.ids.len(), 1);
            let left: usize = redis::cmd("XLEN")
                .arg(&stream)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert_eq!(
                left, 0,
                "every entry is acked and deleted, the refused one too"
            );
        }
    }
}
