//! The heartbeat: the worker's record and its place in `workers`, and the
//! workers whose heartbeat expired (gone), which wake the reclaimer.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ardiq_spec::Heartbeat;
use ardiq_spec::RECORD_VERSION;
use prost::Message as _;

use super::now_ms;
use super::Engine;
use crate::conn::Conn;

impl Engine {
    pub(super) async fn heartbeat(self: Arc<Self>, mut conn: Conn) {
        let period = self.config.heartbeat_ms;
        let mut known_gone: HashSet<String> = HashSet::new();
        loop {
            let (running, completed, failed, concurrency) = match self.run.upgrade() {
                Some(run) => {
                    let (_, running, completed, failed) = run.counters();
                    (running as u32, completed, failed, run.concurrency() as u32)
                }
                None => (0, 0, 0, self.config.concurrency as u32),
            };
            let now = now_ms();
            let beat = Heartbeat {
                spec_version: RECORD_VERSION.to_owned(),
                worker_id: self.config.worker_id.clone(),
                hostname: self.config.hostname.clone(),
                pid: self.config.pid,
                started_ms: self.started_ms,
                seen_ms: now,
                concurrency,
                running,
                completed,
                failed,
                queues: self.queues.clone(),
            };
            let result: Result<(Vec<String>,), redis::RedisError> = redis::pipe()
                .cmd("SET")
                .arg(self.keys.worker(&self.config.worker_id))
                .arg(beat.encode_to_vec())
                .arg("PX")
                .arg(period * 3)
                .ignore()
                .cmd("ZADD")
                .arg(self.keys.workers())
                .arg(now)
                .arg(&self.config.worker_id)
                .ignore()
                .cmd("ZREMRANGEBYSCORE")
                .arg(self.keys.workers())
                .arg("-inf")
                .arg(now - 60_000)
                .ignore()
                .cmd("ZRANGEBYSCORE")
                .arg(self.keys.workers())
                .arg("-inf")
                .arg(now - 3 * period as i64)
                .query_async(&mut conn)
                .await;
            match result {
                // Workers whose heartbeat expired: gone. A new one starts
                // this worker's reclaimer on their entries at once.
                Ok((gone,)) => {
                    let gone: HashSet<String> = gone.into_iter().collect();
                    if gone.iter().any(|id| !known_gone.contains(id)) {
                        self.worker_gone.notify_one();
                    }
                    known_gone = gone;
                }
                Err(err) => self.log(30, format!("heartbeat failed: {err}")),
            }
            if self.sleep_or_stop(Duration::from_millis(period)).await {
                let _: Result<(), redis::RedisError> = redis::pipe()
                    .cmd("DEL")
                    .arg(self.keys.worker(&self.config.worker_id))
                    .ignore()
                    .cmd("ZREM")
                    .arg(self.keys.workers())
                    .arg(&self.config.worker_id)
                    .ignore()
                    .query_async(&mut conn)
                    .await;
                return;
            }
        }
    }
}
