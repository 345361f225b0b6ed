//! Starting jobs and taking their outcomes: waiting jobs go to Python while
//! slots are free; reports come back as writes for the finisher.

use super::now_ms;
use super::outcome::Outcome;
use super::Engine;
use crate::bridge::StartJob;

impl Engine {
    /// Moves waiting jobs to Python while slots are free.
    pub(super) fn dispatch(&self) {
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
}
