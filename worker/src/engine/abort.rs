//! Abort polling: while it holds jobs, the worker checks their ids against
//! the `abort` set every 500 ms and cancels or drops the aborted ones.

use std::sync::Arc;
use std::time::Duration;

use super::now_ms;
use super::outcome::Outcome;
use super::Engine;
use crate::bridge::CancelReason;
use crate::conn::Conn;

/// How often held entries are checked against the abort set.
pub(super) const ABORT_POLL: Duration = Duration::from_millis(500);

impl Engine {
    pub(super) async fn abort_poller(self: Arc<Self>, mut conn: Conn) {
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
                // Not started: nothing ran.
                let action = self.outcome_action(held, Outcome::Aborted, now, None);
                self.send(action);
            }
            self.bridge.cancel(cancels);
            self.check_exit();
        }
    }
}
