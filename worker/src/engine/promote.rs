//! Promotion: moves due delayed jobs into their streams with `promote.lua`,
//! when the earliest due time comes and at least every interval.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;

use super::now_ms;
use super::Engine;
use crate::conn::Conn;

impl Engine {
    pub(super) async fn promote_once(
        &self,
        conn: &mut Conn,
    ) -> Result<(i64, i64), redis::RedisError> {
        let mut invocation = self.scripts.promote.key(self.keys.delayed());
        invocation.key(self.keys.delayed_jobs());
        for stream in self.keys.streams_low_to_high() {
            invocation.key(stream);
        }
        invocation.arg(now_ms()).arg(1000).invoke_async(conn).await
    }

    pub(super) async fn promoter(self: Arc<Self>, mut conn: Conn) {
        let interval = self.config.promote_interval_ms;
        loop {
            let pause = match self.promote_once(&mut conn).await {
                Ok((moved, _)) if moved >= 1000 => 0,
                Ok((_, next_due)) => {
                    let jitter = rand::rng().random_range(0..=interval / 10);
                    let until_due = if next_due < 0 {
                        interval
                    } else {
                        (next_due - now_ms()).max(0) as u64
                    };
                    until_due.min(interval) + jitter
                }
                Err(err) => {
                    self.log(40, format!("promoting delayed jobs failed: {err}"));
                    1000
                }
            };
            if self.sleep_or_stop(Duration::from_millis(pause)).await {
                return;
            }
        }
    }
}
