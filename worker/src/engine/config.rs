//! Settings of a worker run and of each task, as the engine reads them.

use std::collections::HashMap;
use std::sync::Arc;

use super::cron::Schedule;

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
    /// The most the prefetch grows to while runs are short
    /// (`Local::prefetch`); at most `prefetch` (0 included) keeps it at
    /// `prefetch` exactly.
    pub prefetch_max: usize,
    /// Drain the queue and stop.
    pub burst: bool,
    /// In burst mode, wait for delayed jobs (and retries) to come due and
    /// run them too, instead of stopping when no job is due.
    pub burst_waits_delayed: bool,
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
    /// Longest time a job's progress report waits to be stored, ms.
    pub progress_interval_ms: u64,
    /// Cap of the journal stream; 0 keeps no journal (SPEC.md section 18).
    pub journal_maxlen: u64,
    /// Registered tasks.
    pub tasks: HashMap<String, TaskConfig>,
    /// Cap of the dead-letter stream.
    pub dead_maxlen: u64,
    /// Spec 1.1: cap of the kept-failures stream; 0 keeps no failures.
    pub failed_maxlen: u64,
    /// Spec 1.1: how long kept failures live, ms.
    pub failed_retention_ms: u64,
    /// Count metrics (`Engine::metrics`).
    pub metrics: bool,
    /// For the heartbeat.
    pub hostname: String,
    /// For the heartbeat.
    pub pid: u32,
    /// Cron schedules; each engine runs those of its queue.
    pub schedules: Vec<Arc<Schedule>>,
}
