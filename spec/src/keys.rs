//! Redis key names of one queue (SPEC.md section 2). Every key carries the
//! hash tag `{<queue>}` so one queue lives in one cluster slot.

use crate::PRIORITY_LEVELS;

/// Key names of one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueKeys {
    queue: String,
    prefix: String,
}

impl QueueKeys {
    /// Key names for `queue`.
    pub fn new(queue: &str) -> Self {
        Self {
            queue: queue.to_owned(),
            prefix: format!("ardiq:{{{queue}}}:"),
        }
    }

    /// The queue name.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// Stream of one priority level, `ardiq:{q}:stream:<p>`.
    pub fn stream(&self, priority: u32) -> String {
        format!(
            "{}stream:{}",
            self.prefix,
            priority.min(PRIORITY_LEVELS - 1)
        )
    }

    /// Streams of all levels, highest priority first.
    pub fn streams_high_to_low(&self) -> Vec<String> {
        (0..PRIORITY_LEVELS).rev().map(|p| self.stream(p)).collect()
    }

    /// Streams of all levels, level 0 first (the order `promote.lua` wants).
    pub fn streams_low_to_high(&self) -> Vec<String> {
        (0..PRIORITY_LEVELS).map(|p| self.stream(p)).collect()
    }

    /// Status key of a job, `ardiq:{q}:job:<id>`.
    pub fn job(&self, id: &str) -> String {
        format!("{}job:{id}", self.prefix)
    }

    /// Sorted set of delayed job ids by due time.
    pub fn delayed(&self) -> String {
        format!("{}delayed", self.prefix)
    }

    /// Hash of delayed jobs' records.
    pub fn delayed_jobs(&self) -> String {
        format!("{}delayed:jobs", self.prefix)
    }

    /// Hash of running job ids to worker ids.
    pub fn running(&self) -> String {
        format!("{}running", self.prefix)
    }

    /// Set of job ids whose abort was requested.
    pub fn abort(&self) -> String {
        format!("{}abort", self.prefix)
    }

    /// Dead-letter stream.
    pub fn dead(&self) -> String {
        format!("{}dead", self.prefix)
    }

    /// Spec 1.1: the kept-failures stream.
    pub fn failed(&self) -> String {
        format!("{}failed", self.prefix)
    }

    /// The prefix every key of the queue starts with, `ardiq:{q}:`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Sorted set of worker ids by last heartbeat.
    pub fn workers(&self) -> String {
        format!("{}workers", self.prefix)
    }

    /// Heartbeat key of one worker.
    pub fn worker(&self, worker_id: &str) -> String {
        format!("{}worker:{worker_id}", self.prefix)
    }

    /// Sorted set of cron schedule names by next tick (SPEC.md section 19).
    pub fn cron(&self) -> String {
        format!("{}cron", self.prefix)
    }

    /// Hash of one cron schedule's state and description.
    pub fn cron_schedule(&self, name: &str) -> String {
        format!("{}cron:{name}", self.prefix)
    }

    /// Pub/sub channel carrying `abort:<id>` hints and (1.1) `done:<id>`
    /// and `waiting:<deadline ms>` messages.
    pub fn events(&self) -> String {
        format!("{}events", self.prefix)
    }

    /// Sorted set of job ids someone waits on, by the wait's deadline (1.1).
    pub fn waiters(&self) -> String {
        format!("{}waiters", self.prefix)
    }

    /// Capped stream of job events, written by workers that keep one (1.1).
    pub fn journal(&self) -> String {
        format!("{}journal", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_queue_hash_tag() {
        let keys = QueueKeys::new("mail");
        assert_eq!(keys.stream(7), "ardiq:{mail}:stream:7");
        assert_eq!(keys.job("a1"), "ardiq:{mail}:job:a1");
        assert_eq!(keys.delayed_jobs(), "ardiq:{mail}:delayed:jobs");
        assert_eq!(keys.cron(), "ardiq:{mail}:cron");
        assert_eq!(keys.cron_schedule("digest"), "ardiq:{mail}:cron:digest");
        assert_eq!(keys.streams_high_to_low()[0], "ardiq:{mail}:stream:9");
        assert_eq!(keys.streams_low_to_high()[0], "ardiq:{mail}:stream:0");
    }
}
