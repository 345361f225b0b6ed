//! Renewal: every third of the visibility timeout (a tenth of that after a
//! failed round), `renew.lua` renews every entry of a level the worker
//! holds or is still writing the outcome of, in one call; held entries it
//! does not return were lost to another worker and their runs are stopped.
//! An entry whose run has ended stays renewed until its write is done: a
//! write that Redis makes wait (it is full, or away) must not let a reclaim
//! run the job again. A held job starts only while its last renewal is
//! recent (`unconfirmed_after`); one that is not (the worker was paused, or
//! cut off from Redis) asks for a renewal at once.

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use ardiq_spec::GROUP;

use super::Engine;
use crate::bridge::CancelReason;
use crate::conn::Conn;

impl Engine {
    /// How long after its last confirmed ownership a held job may still
    /// start: two thirds of the visibility timeout. Renewals come every
    /// third, so only a worker whose renewals stalled gets there, and the
    /// third left covers the time between a renewal's start and Redis's
    /// reading of it, before another worker's reclaim could take the entry.
    pub(super) fn unconfirmed_after(&self) -> Duration {
        Duration::from_millis(self.config.visibility_ms * 2 / 3)
    }

    pub(super) async fn renewer(self: Arc<Self>, mut conn: Conn) {
        let period = Duration::from_millis((self.config.visibility_ms / 3).max(1));
        // A round asked for early comes at most once per tenth of the period:
        // one that fails would otherwise be asked for again at once.
        let early_gap = period / 10;
        // After a round that failed on some level, the next comes a tenth of
        // the period later, not a whole one: at the usual pace two failures
        // in a row (Redis loading after a restart, then a broken
        // connection) leave the entries unrenewed for the whole visibility
        // timeout, and another worker reclaims jobs still running here.
        let retry_gap = early_gap.max(Duration::from_millis(5));
        let mut failed_rounds: u32 = 0;
        let mut last_round: Option<Instant> = None;
        loop {
            let wait = if failed_rounds > 0 { retry_gap } else { period };
            let early = tokio::select! {
                stopping = self.sleep_or_stop(wait) => {
                    if stopping {
                        return;
                    }
                    false
                }
                () = self.renew_now.notified() => true,
            };
            if let Some(wait) = last_round
                .filter(|_| early)
                .and_then(|at| early_gap.checked_sub(at.elapsed()))
            {
                if self.sleep_or_stop(wait).await {
                    return;
                }
            }
            let round = Instant::now();
            last_round = Some(round);
            // Held entries with their handles; entries whose outcome is
            // being written (known, no longer held) without.
            let mut by_stream: HashMap<u32, Vec<(Option<u64>, String)>> = HashMap::new();
            {
                let local = self.local.lock().expect("local");
                let mut held_entries = HashSet::with_capacity(local.held.len());
                for (&handle, held) in &local.held {
                    held_entries.insert((held.priority, held.entry_id.as_str()));
                    by_stream
                        .entry(held.priority)
                        .or_default()
                        .push((Some(handle), held.entry_id.clone()));
                }
                for (priority, entry_id) in &local.by_entry {
                    if !held_entries.contains(&(*priority, entry_id.as_str())) {
                        by_stream
                            .entry(*priority)
                            .or_default()
                            .push((None, entry_id.clone()));
                    }
                }
            }
            let mut failed = false;
            for (priority, held) in by_stream {
                let mut invocation = self.scripts.renew.key(self.keys.stream(priority));
                invocation.arg(GROUP).arg(&self.config.worker_id);
                for (_, entry_id) in &held {
                    invocation.arg(entry_id);
                }
                let owned: Vec<String> = match invocation.invoke_async(&mut conn).await {
                    Ok(owned) => owned,
                    Err(err) => {
                        // Once per run of failures (and every 20th round of it).
                        if !failed && failed_rounds % 20 == 0 {
                            self.log(
                                40,
                                format!("renewing ownership failed, trying again soon: {err}"),
                            );
                        }
                        failed = true;
                        continue;
                    }
                };
                let owned: HashSet<String> = owned.into_iter().collect();
                let mut cancels = Vec::new();
                let mut lost_any = false;
                {
                    let mut local = self.local.lock().expect("local");
                    for (handle, entry_id) in held {
                        // An entry being written: its write checks
                        // ownership itself and writes nothing if lost.
                        let Some(handle) = handle else { continue };
                        if owned.contains(&entry_id) {
                            if let Some(held) = local.held.get_mut(&handle) {
                                held.confirmed = round;
                            }
                            continue;
                        }
                        if let Some(lost) = local.remove(handle) {
                            local.forget(priority, entry_id.clone());
                            lost_any = true;
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
                if lost_any {
                    // Room to fetch again: a fetcher whose prefetch was full
                    // waits for this, and no run may end to tell it.
                    self.slot_freed.notify_one();
                }
            }
            failed_rounds = if failed { failed_rounds + 1 } else { 0 };
            self.dispatch();
            self.check_exit();
        }
    }
}
