//! The worker engine. It owns every Redis interaction of a worker run and
//! never takes the GIL: it fetches batches with `XREADGROUP`, validates each
//! entry (dead-lettering what must not run), keeps fetched jobs in a local
//! priority queue, hands them to Python through the bridge, and stores what
//! Python reports in batched `finish.lua` calls. Background tasks promote due
//! delayed jobs, renew ownership of held entries, reclaim entries of dead
//! workers, poll abort requests, write heartbeats and enqueue the ticks of
//! cron schedules.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ardiq_spec::{scripts, Job, QueueKeys, DEFAULT_RESULT_TTL_MS};
use redis::Script;
use tokio::sync::{mpsc, watch, Notify};

use ardiq_client::pubsub::Hub;

use crate::bridge::Bridge;
use crate::conn::Conn;

mod abort;
mod admission;
mod config;
mod cron;
mod dispatch;
mod fetch;
mod finish;
mod heartbeat;
mod journal;
mod local;
pub mod metrics;
mod orphans;
mod outcome;
mod progress;
mod promote;
mod reclaim;
mod renew;
mod run;
#[cfg(test)]
mod tests;
mod waiters;

pub use admission::{validate, Accepted, Entry, Rejection};
pub use config::{TaskConfig, WorkerConfig};
pub use cron::{CatchUp, Schedule, Timing, MAX_NAME_BYTES as MAX_SCHEDULE_NAME_BYTES};
pub use local::AUTO_PREFETCH_MAX;
use local::{Held, Local};
use outcome::Action;
pub use outcome::{backoff_ms, Outcome};
pub use run::{Run, MAX_QUEUES};

/// Now, in ms since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
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
    cron: Script,
    progress: Script,
}

/// The work of one queue in a worker run.
pub struct Engine {
    config: WorkerConfig,
    keys: QueueKeys,
    /// This queue's place in the run (the low bits of its handles).
    index: usize,
    /// This queue's name, shared by the jobs started from it.
    queue_name: Arc<str>,
    /// Every queue of the run, for the heartbeat.
    queues: Vec<String>,
    run: Weak<Run>,
    bridge: Arc<Bridge>,
    local: Mutex<Local>,
    slot_freed: Notify,
    /// A waiting job could not start for want of a recent renewal.
    renew_now: Notify,
    /// The heartbeat saw another worker's heartbeat expire.
    worker_gone: Notify,
    actions: mpsc::UnboundedSender<Action>,
    in_finisher: AtomicUsize,
    /// A read or claim failed without Redis's answer, so Redis may have
    /// given this worker entries it never heard of (`orphans`).
    orphans_possible: AtomicBool,
    stop: watch::Sender<bool>,
    scripts: WorkerScripts,
    started_ms: i64,
    /// Counters for `/metrics`, when the run has them.
    metrics: Option<metrics::Metrics>,
    /// The latest deadline of a wait on this queue's jobs that the engine
    /// knows of, ms (SPEC.md section 15).
    waiters_until: AtomicI64,
    /// A progress report came while none was waiting to be stored.
    progress_ready: Notify,
    /// Journal events not written yet, and the signal that one came.
    journal_pending: Mutex<Vec<journal::Event>>,
    journal_ready: Notify,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("worker_id", &self.config.worker_id)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Spawns the fetcher and the background tasks on the current tokio
    /// runtime (its consumer groups exist: `Run::create_groups`).
    fn spawn(
        self: Arc<Self>,
        conn: Conn,
        reader: Conn,
        receiver: mpsc::UnboundedReceiver<Action>,
        hub: Arc<Hub>,
    ) {
        tokio::spawn(Arc::clone(&self).waiter_listener(hub, conn.clone()));
        tokio::spawn(Arc::clone(&self).progress_reporter(conn.clone()));
        tokio::spawn(Arc::clone(&self).journal_writer(conn.clone()));
        tokio::spawn(Arc::clone(&self).finisher(conn.clone(), receiver));
        tokio::spawn(Arc::clone(&self).promoter(conn.clone()));
        tokio::spawn(Arc::clone(&self).reclaimer(conn.clone()));
        tokio::spawn(Arc::clone(&self).renewer(conn.clone()));
        tokio::spawn(Arc::clone(&self).abort_poller(conn.clone()));
        tokio::spawn(Arc::clone(&self).heartbeat(conn.clone()));
        // A burst run drains what is queued; it enqueues no ticks.
        let schedules: Vec<Arc<Schedule>> = self
            .config
            .schedules
            .iter()
            .filter(|s| s.queue == self.keys.queue())
            .cloned()
            .collect();
        if !schedules.is_empty() && !self.config.burst {
            tokio::spawn(Arc::clone(&self).scheduler(conn.clone(), schedules));
        }
        tokio::spawn(self.fetcher(conn, reader));
    }

    /// An engine for `queue` (number `index` of the run's `queues`) that
    /// runs nothing yet, and the receiving end of its writes.
    fn new(
        config: WorkerConfig,
        queue: &str,
        queues: &[String],
        index: usize,
        run: Weak<Run>,
        bridge: Arc<Bridge>,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Action>) {
        let (actions, receiver) = mpsc::unbounded_channel();
        let (stop, _) = watch::channel(false);
        let engine = Arc::new(Self {
            keys: QueueKeys::new(queue),
            queue_name: Arc::from(queue),
            index,
            queues: queues.to_vec(),
            run,
            bridge,
            local: Mutex::new(Local::default()),
            slot_freed: Notify::new(),
            renew_now: Notify::new(),
            worker_gone: Notify::new(),
            actions,
            in_finisher: AtomicUsize::new(0),
            orphans_possible: AtomicBool::new(false),
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
                cron: Script::new(scripts::CRON),
                progress: Script::new(scripts::PROGRESS),
            },
            started_ms: now_ms(),
            metrics: config
                .metrics
                .then(|| metrics::Metrics::new(config.tasks.keys())),
            config,
            waiters_until: AtomicI64::new(0),
            progress_ready: Notify::new(),
            journal_pending: Mutex::new(Vec::new()),
            journal_ready: Notify::new(),
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
            if let Some(run) = self.run.upgrade() {
                run.engine_ended();
            }
        }
    }

    /// This queue's name.
    pub fn queue(&self) -> &str {
        &self.queue_name
    }

    /// This queue's metrics, when the run counts them.
    pub fn metrics(&self) -> Option<&metrics::Metrics> {
        self.metrics.as_ref()
    }

    /// `(started, retried)` runs so far, for the summary at the end of a run.
    pub fn run_totals(&self) -> (u64, u64) {
        let local = self.local.lock().expect("local");
        (local.started, local.retried)
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
