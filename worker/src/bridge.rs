//! The GIL boundary. Rust threads never call into Python: they push what
//! is ready (replies to requests, jobs to start, cancellations, the end of a
//! worker run) onto one queue and write a single byte to a socket whose other
//! end the Python event loop watches with `add_reader`. Python then takes
//! everything at once with `drain`. One wake-up carries any number of items,
//! and a wake-up is only written when the queue was not already signalled.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use ardiq_client::inspect::{JobDetails, JobPage, QueueInfo, WorkerInfo};
use ardiq_client::{AbortOutcome, DeadLetter, EnqueueOutcome, JobInfo, KeptFailure, ScheduleState};
use ardiq_spec::Value;

use crate::error::CoreError;

/// The answer to a request Python made.
#[derive(Debug)]
pub enum ReplyValue {
    /// Outcome of each enqueued job, in order.
    Enqueued(Vec<EnqueueOutcome>),
    /// A job's state and, when terminal, its record.
    Status(Box<JobInfo>),
    /// What the abort did.
    Abort(AbortOutcome),
    /// Dead letters, oldest first.
    DeadLetters(Vec<DeadLetter>),
    /// Cron schedules as Redis holds them.
    Schedules(Vec<ScheduleState>),
    /// The job id of a replayed dead letter, `None` when it was gone.
    Replayed(Option<String>),
    /// How many entries were removed.
    Count(u64),
    /// A queue at a glance.
    QueueInfo(Box<QueueInfo>),
    /// A queue's workers.
    Workers(Vec<WorkerInfo>),
    /// A page of jobs in the named state.
    Jobs(JobPage, &'static str),
    /// One job's full record.
    Details(Box<JobDetails>),
    /// Names (of queues).
    Names(Vec<String>),
    /// Kept failures, oldest first.
    Failures(Vec<KeptFailure>),
    /// A journal read: the id to read after next (the last entry's, or what
    /// `$` stood for when no entry came), and the entries, `(entry id,
    /// fields)`, oldest first.
    Journal(String, Vec<(String, Vec<(String, String)>)>),
    /// Done, nothing to report.
    Unit,
}

/// A job for Python to start.
#[derive(Debug)]
pub struct StartJob {
    /// The worker's handle for this run.
    pub handle: u64,
    /// Registered task name.
    pub task: String,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Vec<(String, Value)>,
    /// Job id.
    pub job_id: String,
    /// Failed runs before this one.
    pub attempt: u32,
    /// Time limit of this run, ms.
    pub timeout_ms: Option<u64>,
    /// The job's queue.
    pub queue: std::sync::Arc<str>,
    /// Priority level.
    pub priority: u32,
    /// Retries the job may still have in all (job override, else the task's).
    pub max_retries: u32,
    /// When the producer enqueued it, ms.
    pub enqueued_ms: i64,
    /// When this run started, ms.
    pub started_ms: i64,
    /// Spec 1.1: the job's headers (the producer's trace context), sorted
    /// by name; empty for most jobs.
    pub headers: Vec<(String, String)>,
}

/// A line about one job for Python's `logging` (logger `ardiq.job`), with
/// its fields for structured handlers.
#[derive(Debug)]
pub struct JobEvent {
    /// Level, as `logging`'s.
    pub level: u8,
    /// `started`, `completed`, `retry`, `failed` or `aborted`.
    pub event: &'static str,
    /// The job id.
    pub job_id: String,
    /// The task name.
    pub task: String,
    /// The job's queue.
    pub queue: std::sync::Arc<str>,
    /// This run's attempt, 1 for the first.
    pub attempt: u32,
    /// How long the run took, ms, once it ended.
    pub duration_ms: Option<f64>,
    /// The error type of a failed run, else empty.
    pub error_type: String,
    /// The line.
    pub message: String,
    /// The traceback of a final failure, else empty.
    pub traceback: String,
}

/// Why a running job must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// Its abort was requested.
    Aborted = 1,
    /// Another worker reclaimed the entry: stop and write nothing.
    Lost = 2,
}

/// Everything ready for Python.
#[derive(Debug, Default)]
pub struct Ready {
    /// `(request id, reply)` pairs.
    pub replies: Vec<(u64, Result<ReplyValue, CoreError>)>,
    /// Jobs to start.
    pub jobs: Vec<StartJob>,
    /// Running jobs to cancel.
    pub cancels: Vec<(u64, CancelReason)>,
    /// `(level, message)` for Python's `logging`, levels as `logging`'s.
    pub logs: Vec<(u8, String)>,
    /// Lines about jobs.
    pub job_events: Vec<JobEvent>,
    /// Set once when a worker run has ended: `None` for a clean end, or the
    /// error that ended it.
    pub worker_exit: Option<Option<String>>,
}

/// The queue plus the wake-up socket.
#[derive(Debug)]
pub struct Bridge {
    ready: Mutex<Ready>,
    signalled: AtomicBool,
    /// Whether Python logs a line per job at INFO (`started`, `completed`);
    /// off, those lines are never made.
    job_logs: AtomicBool,
    writer: UnixStream,
    reader: UnixStream,
}

impl Bridge {
    /// A bridge with a fresh socket pair.
    pub fn new() -> std::io::Result<Self> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        Ok(Self {
            ready: Mutex::new(Ready::default()),
            signalled: AtomicBool::new(false),
            job_logs: AtomicBool::new(false),
            writer,
            reader,
        })
    }

    /// The file descriptor Python watches.
    pub fn fileno(&self) -> i32 {
        self.reader.as_raw_fd()
    }

    fn with_ready(&self, push: impl FnOnce(&mut Ready)) {
        push(&mut self.ready.lock().expect("bridge lock"));
        if !self.signalled.swap(true, Ordering::AcqRel) {
            // A full socket buffer already means "wake up": ignore WouldBlock.
            let _ = (&self.writer).write(&[1]);
        }
    }

    /// Hands a reply to Python.
    pub fn reply(&self, request: u64, reply: Result<ReplyValue, CoreError>) {
        self.with_ready(|ready| ready.replies.push((request, reply)));
    }

    /// Hands jobs to Python, with a `started` line for each when job lines
    /// are on.
    pub fn start(&self, jobs: Vec<StartJob>) {
        if jobs.is_empty() {
            return;
        }
        let events: Vec<JobEvent> = if self.job_logs() {
            jobs.iter()
                .map(|job| JobEvent {
                    level: 20,
                    event: "started",
                    job_id: job.job_id.clone(),
                    task: job.task.clone(),
                    queue: std::sync::Arc::clone(&job.queue),
                    attempt: job.attempt + 1,
                    duration_ms: None,
                    error_type: String::new(),
                    message: format!("job {} ({}) started", job.job_id, job.task),
                    traceback: String::new(),
                })
                .collect()
        } else {
            Vec::new()
        };
        self.with_ready(|ready| {
            ready.jobs.extend(jobs);
            ready.job_events.extend(events);
        });
    }

    /// Whether lines about every job are wanted.
    pub fn job_logs(&self) -> bool {
        self.job_logs.load(Ordering::Relaxed)
    }

    /// Turns the lines about every job on or off.
    pub fn set_job_logs(&self, on: bool) {
        self.job_logs.store(on, Ordering::Relaxed);
    }

    /// Hands a line about a job to Python.
    pub fn job_event(&self, event: JobEvent) {
        self.with_ready(|ready| ready.job_events.push(event));
    }

    /// Asks Python to cancel running jobs.
    pub fn cancel(&self, cancels: Vec<(u64, CancelReason)>) {
        if !cancels.is_empty() {
            self.with_ready(|ready| ready.cancels.extend(cancels));
        }
    }

    /// Hands a log line to Python.
    pub fn log(&self, level: u8, message: String) {
        self.with_ready(|ready| ready.logs.push((level, message)));
    }

    /// Tells Python the worker run ended.
    pub fn worker_exit(&self, error: Option<String>) {
        self.with_ready(|ready| ready.worker_exit = Some(error));
    }

    /// Takes everything ready (called by Python when the socket is readable).
    pub fn take(&self) -> Ready {
        // Order matters: drain the wake-up bytes, then clear the flag, then
        // take the queue. A push after the drain either sees the flag still
        // set (and is taken below) or writes a fresh byte that wakes Python
        // again; clearing first could swallow that byte and leave the flag
        // set with nobody to wake.
        let mut buf = [0u8; 256];
        while matches!(std::io::Read::read(&mut &self.reader, &mut buf), Ok(n) if n > 0) {}
        self.signalled.store(false, Ordering::Release);
        std::mem::take(&mut *self.ready.lock().expect("bridge lock"))
    }
}
