//! Metrics of one queue's engine, counted here with atomics so that they
//! cost no GIL time per job: jobs started, completed, failed, retried,
//! aborted and dead-lettered by task, and a run-duration histogram by task.
//! Python's `prometheus-client` reads a snapshot when `/metrics` is scraped
//! (`ardiq.metrics`). A run without metrics has none of this (`None`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the run-duration buckets, seconds (`+Inf` is implied).
pub const DURATION_BUCKETS: [f64; 16] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Counters of one task.
#[derive(Debug, Default)]
pub struct TaskMetrics {
    started: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    aborted: AtomicU64,
    /// Non-cumulative counts per bucket, the last one `+Inf`.
    buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    duration_ns: AtomicU64,
}

/// How a run ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Returned.
    Completed,
    /// Raised with no retry left.
    Failed,
    /// Raised; retried.
    Retried,
    /// Aborted.
    Aborted,
}

impl TaskMetrics {
    fn observe(&self, ended: Ended, ran: Option<Duration>) {
        let counter = match ended {
            Ended::Completed => &self.completed,
            Ended::Failed => &self.failed,
            Ended::Retried => &self.retried,
            Ended::Aborted => &self.aborted,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let Some(ran) = ran else { return };
        let seconds = ran.as_secs_f64();
        let bucket = DURATION_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.duration_ns
            .fetch_add(ran.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// One task's counters as Python reads them: `(task, started, completed,
/// failed, retried, aborted, cumulative bucket counts (the last `+Inf`),
/// duration sum in seconds)`.
pub type TaskSnapshot = (String, u64, u64, u64, u64, u64, Vec<u64>, f64);

/// The metrics of one queue in a worker run.
#[derive(Debug)]
pub struct Metrics {
    tasks: HashMap<String, TaskMetrics>,
    /// Dead letters by `(task, reason)`; rare, so a lock is fine.
    dead: Mutex<HashMap<(String, &'static str), u64>>,
}

impl Metrics {
    /// Counters for each registered task.
    pub fn new<'a>(tasks: impl Iterator<Item = &'a String>) -> Self {
        Self {
            tasks: tasks
                .map(|name| (name.clone(), TaskMetrics::default()))
                .collect(),
            dead: Mutex::new(HashMap::new()),
        }
    }

    /// A run of `task` started (only registered tasks run).
    pub fn started(&self, task: &str) {
        if let Some(counters) = self.tasks.get(task) {
            counters.started.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A run of `task` ended after `ran` (`None`: aborted before it started).
    pub fn ended(&self, task: &str, ended: Ended, ran: Option<Duration>) {
        if let Some(counters) = self.tasks.get(task) {
            counters.observe(ended, ran);
        }
    }

    /// A job of `task` (empty when unknown) was dead-lettered for `reason`.
    pub fn dead(&self, task: &str, reason: &'static str) {
        *self
            .dead
            .lock()
            .expect("dead counters")
            .entry((task.to_owned(), reason))
            .or_default() += 1;
    }

    /// Every task's counters, by task name.
    pub fn tasks(&self) -> Vec<TaskSnapshot> {
        let mut out: Vec<TaskSnapshot> = self
            .tasks
            .iter()
            .map(|(name, c)| {
                let mut total = 0;
                let buckets = c
                    .buckets
                    .iter()
                    .map(|b| {
                        total += b.load(Ordering::Relaxed);
                        total
                    })
                    .collect();
                (
                    name.clone(),
                    c.started.load(Ordering::Relaxed),
                    c.completed.load(Ordering::Relaxed),
                    c.failed.load(Ordering::Relaxed),
                    c.retried.load(Ordering::Relaxed),
                    c.aborted.load(Ordering::Relaxed),
                    buckets,
                    c.duration_ns.load(Ordering::Relaxed) as f64 / 1e9,
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Dead letters as `(task, reason, count)`.
    pub fn dead_letters(&self) -> Vec<(String, String, u64)> {
        let mut out: Vec<(String, String, u64)> = self
            .dead
            .lock()
            .expect("dead counters")
            .iter()
            .map(|((task, reason), n)| (task.clone(), (*reason).to_owned(), *n))
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_land_in_cumulative_buckets() {
        let names = ["add".to_owned()];
        let metrics = Metrics::new(names.iter());
        metrics.started("add");
        metrics.ended("add", Ended::Completed, Some(Duration::from_micros(300)));
        metrics.ended("add", Ended::Retried, Some(Duration::from_millis(20)));
        metrics.ended("add", Ended::Failed, Some(Duration::from_secs(100)));
        metrics.ended("add", Ended::Aborted, None);
        metrics.ended("unknown", Ended::Failed, Some(Duration::from_secs(1)));
        let [(task, started, completed, failed, retried, aborted, buckets, sum)] =
            metrics.tasks().try_into().unwrap();
        assert_eq!(task, "add");
        assert_eq!(
            (started, completed, failed, retried, aborted),
            (1, 1, 1, 1, 1)
        );
        assert_eq!(buckets[0], 1);
        assert_eq!(buckets[5], 2); // 0.025 s
        assert_eq!(buckets[DURATION_BUCKETS.len() - 1], 2);
        assert_eq!(buckets[DURATION_BUCKETS.len()], 3);
        assert!((sum - 100.020_3).abs() < 1e-6);
    }
}
