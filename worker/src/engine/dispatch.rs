//! Starting jobs and taking their outcomes: waiting jobs go to Python while
//! slots are free; reports come back as writes for the finisher.

use super::now_ms;
use super::outcome::Outcome;
use super::Engine;
use crate::bridge::StartJob;

impl Engine {
    /// Starts waiting jobs while the run has free slots (the run shares
    /// them out among its queues).
    pub(super) fn dispatch(&self) {
        if let Some(run) = self.run.upgrade() {
            run.dispatch();
        }
    }

    /// Jobs of this queue running now.
    pub(super) fn running(&self) -> usize {
        self.local.lock().expect("local").running
    }

    /// Whether a job of this queue waits for a slot (a stopping worker
    /// starts nothing new).
    pub(super) fn has_waiting(&self) -> bool {
        let local = self.local.lock().expect("local");
        !local.stopping && local.waiting.iter().any(|level| !level.is_empty())
    }

    /// Takes this queue's next waiting job (by priority, with the
    /// starvation rule) to start it.
    pub(super) fn start_next(&self) -> Option<StartJob> {
        let mut expired = Vec::new();
        let started = self.take_next(&mut expired);
        if !expired.is_empty() {
            let now = now_ms();
            for held in expired {
                let action = self.expired_action(held, now);
                self.send(action);
            }
        }
        started
    }

    /// The next waiting job that has not expired; the expired ones met on
    /// the way are taken out into `expired` (SPEC.md section 17).
    fn take_next(&self, expired: &mut Vec<super::Held>) -> Option<StartJob> {
        let mut local = self.local.lock().expect("local");
        if local.stopping {
            return None;
        }
        let now = now_ms();
        // One monotonic reading for the hold's age and the run's start.
        let instant = std::time::Instant::now();
        let unconfirmed = self.unconfirmed_after();
        let handle = loop {
            let handle = local.next_waiting()?;
            let Some(held) = local.held.get(&handle) else {
                continue;
            };
            if held.job.expires_ms.is_some_and(|at| now >= at) {
                if let Some(held) = local.remove(handle) {
                    expired.push(held);
                }
                continue;
            }
            if instant.saturating_duration_since(held.confirmed) >= unconfirmed {
                // Not renewed for too long (the worker was paused, or cut
                // off from Redis): another worker may have claimed the entry
                // meanwhile. It waits, first of its level, for the renewal
                // that confirms or drops it.
                let level = held.priority as usize;
                local.waiting[level].push_front(handle);
                self.renew_now.notify_one();
                return None;
            }
            break handle;
        };
        local.running += 1;
        local.started += 1;
        let held = local.held.get_mut(&handle).expect("waiting job is held");
        held.running = true;
        held.started_ms = now;
        held.started_at = Some(instant);
        self.journal("started", &held.job, held.started_ms, None);
        let (args, kwargs) = held.values.take().unwrap_or_default();
        if let Some(metrics) = &self.metrics {
            metrics.started(&held.job.task);
        }
        let task = self.config.tasks.get(&held.job.task);
        let timeout_ms = held
            .job
            .timeout_ms
            .or_else(|| task.and_then(|t| t.timeout_ms))
            .filter(|&t| t > 0);
        let max_retries = held
            .job
            .max_retries
            .unwrap_or_else(|| task.map_or(0, |t| t.retries));
        Some(StartJob {
            handle,
            task: held.job.task.clone(),
            args,
            kwargs,
            job_id: held.job.id.clone(),
            attempt: held.job.attempt,
            timeout_ms,
            queue: std::sync::Arc::clone(&self.queue_name),
            priority: held.priority,
            max_retries,
            enqueued_ms: held.job.enqueued_ms,
            started_ms: held.started_ms,
            headers: held
                .job
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    /// Python reports finished runs.
    pub fn report(&self, outcomes: Vec<(u64, Outcome)>) {
        // One clock reading for the whole report: its runs ended together.
        let now = now_ms();
        let instant = std::time::Instant::now();
        for (handle, outcome) in outcomes {
            let (removed, ran) = {
                let mut local = self.local.lock().expect("local");
                let held = local.remove(handle);
                let ran = held
                    .as_ref()
                    .and_then(|held| held.started_at)
                    .map(|at| instant.saturating_duration_since(at));
                if let Some(ran) = ran {
                    local.note_run(ran);
                }
                (held, ran)
            };
            let Some(held) = removed else {
                continue; // lost to a reclaim, or already handled
            };
            let action = self.outcome_action(held, outcome, now, ran);
            self.send(action);
        }
        self.slot_freed.notify_one();
        self.dispatch();
        self.check_exit();
    }
}
