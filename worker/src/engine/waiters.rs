//! Telling waiting callers that their jobs ended (SPEC.md section 15): the
//! engine listens for `waiting:<deadline>` messages on its queue's events
//! channel and, after (re)subscribing, reads the latest wait deadline from
//! the waiters zset. Until that deadline has passed, the scripts that end
//! jobs get the worker's clock and look the ended jobs up in the zset;
//! otherwise they get "0" and read nothing, so a queue nobody waits on pays
//! no command for it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ardiq_client::pubsub::Hub;

use super::now_ms;
use super::Engine;
use crate::conn::Conn;

/// How often the subscription is checked (and, without one, the zset read).
const CHECK_EVERY: Duration = Duration::from_secs(5);

impl Engine {
    /// The `ARGV` that tells a script whether to tell waiters: the clock
    /// while a wait may last, else "0".
    pub(super) fn notify_clock(&self) -> i64 {
        let now = now_ms();
        if self.waiters_until.load(Ordering::Acquire) >= now {
            now
        } else {
            0
        }
    }

    fn waits_until(&self, deadline_ms: i64) {
        self.waiters_until.fetch_max(deadline_ms, Ordering::AcqRel);
    }

    /// Keeps the subscription to the events channel and the latest wait
    /// deadline up to date until the run stops.
    pub(super) async fn waiter_listener(self: Arc<Self>, hub: Arc<Hub>, mut conn: Conn) {
        let channel = self.keys.events();
        let engine = Arc::downgrade(&self);
        let _listening = hub.listen(&channel, move |payload| {
            let deadline = payload
                .strip_prefix("waiting:")
                .and_then(|ms| ms.parse::<i64>().ok());
            if let (Some(deadline), Some(engine)) = (deadline, engine.upgrade()) {
                engine.waits_until(deadline);
            }
        });
        let mut warned = false;
        loop {
            let read = match hub.ensure(&channel).await {
                Ok(fresh) => {
                    warned = false;
                    fresh
                }
                Err(err) => {
                    if !warned {
                        self.log(
                            30,
                            format!("cannot subscribe to {channel} ({err}): waiting callers are told only by their own polling until it works"),
                        );
                        warned = true;
                    }
                    true
                }
            };
            if read {
                self.read_waiters(&mut conn).await;
            }
            if self.sleep_or_stop(CHECK_EVERY).await {
                return;
            }
        }
    }

    /// The latest wait deadline in the waiters zset (one `ZRANGE`).
    async fn read_waiters(&self, conn: &mut Conn) {
        let latest: Result<Vec<(String, f64)>, _> = redis::cmd("ZRANGE")
            .arg(self.keys.waiters())
            .arg(-1)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(conn)
            .await;
        if let Ok(latest) = latest {
            if let Some((_, deadline)) = latest.first() {
                self.waits_until(*deadline as i64);
            }
        }
    }
}
