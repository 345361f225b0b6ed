//! Reclaim: takes entries idle past the visibility timeout from dead
//! workers (`XAUTOCLAIM`, following the cursor within this worker's room),
//! dead-letters those over the delivery limit, and retires gone workers'
//! consumers (`retire.lua`).

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use ardiq_client::entries::autoclaim_reply;
use ardiq_spec::limits::MAX_BATCH;
use ardiq_spec::limits::MAX_NAME_BYTES;
use ardiq_spec::GROUP;
use ardiq_spec::PRIORITY_LEVELS;
use rand::Rng as _;
use redis::Value as RedisValue;

use super::admission::Entry;
use super::admission::Rejection;
use super::fetch::is_nogroup;
use super::orphans::resent_calls;
use super::Engine;
use crate::conn::Conn;

/// Whether stream entry id `a` (`<ms>-<seq>`) sorts before `b`.
pub(super) fn stream_id_before(a: &str, b: &str) -> bool {
    let parse = |id: &str| {
        let (ms, seq) = id.split_once('-')?;
        Some((ms.parse::<u64>().ok()?, seq.parse::<u64>().ok()?))
    };
    match (parse(a), parse(b)) {
        (Some(a), Some(b)) => a < b,
        _ => a < b,
    }
}

impl Engine {
    /// Free room for more entries: concurrency plus prefetch, minus what is
    /// held (and what waits to be written beyond that, `Local::occupying`).
    pub(super) fn room(&self) -> usize {
        let local = self.local.lock().expect("local");
        if local.stopping {
            return 0;
        }
        let cap = self.config.concurrency + self.config.prefetch;
        cap.saturating_sub(local.occupying(cap))
    }

    pub(super) async fn reclaimer(self: Arc<Self>, mut conn: Conn) {
        let period = self.config.visibility_ms / 2;
        let mut boost_until: Option<Instant> = None;
        let mut last_retire: Option<Instant> = None;
        loop {
            let resent = resent_calls();
            let reclaimed = self.reclaim_once(&mut conn).await;
            self.note_resent_since(resent);
            let more = match reclaimed {
                Ok(more) => more,
                Err(err) => {
                    if is_nogroup(&err) {
                        let _ = self.restore_groups(&mut conn).await;
                    } else {
                        // A claim may have run without its reply, or its
                        // entries not been taken up after it.
                        self.may_have_orphans();
                    }
                    self.log(40, format!("reclaiming failed: {err}"));
                    false
                }
            };
            // Entries of a claim whose reply was lost are taken up now (so
            // are a read's, while the fetcher waits on its next one).
            if let Err(err) = self.adopt_orphans_if_any(&mut conn).await {
                self.log(
                    40,
                    format!("taking up this worker's unknown entries failed: {err}"),
                );
            }
            if last_retire.is_none_or(|at| at.elapsed().as_millis() >= u128::from(period)) {
                last_retire = Some(Instant::now());
                if let Err(err) = self.retire_gone(&mut conn).await {
                    self.log(
                        30,
                        format!("removing gone workers' consumers failed: {err}"),
                    );
                }
            }
            // Room ran out with idle entries left: go on as slots free.
            // After a worker was seen gone: pass often until its entries
            // have come due. Else: every half visibility timeout.
            let boosted = boost_until.is_some_and(|until| Instant::now() < until);
            let pause = if more {
                Duration::from_millis(50)
            } else if boosted {
                Duration::from_millis((self.config.visibility_ms / 10).max(50))
            } else {
                let jitter = rand::rng().random_range(0..=period / 5 + 1);
                Duration::from_millis(period + jitter)
            };
            let mut stop = self.stop.subscribe();
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.worker_gone.notified() => {
                    boost_until = Some(
                        Instant::now() + Duration::from_millis(self.config.visibility_ms + period),
                    );
                }
                _ = stop.changed() => return,
            }
        }
    }

    /// One reclaim pass over every level, highest first: follows each
    /// level's `XAUTOCLAIM` cursor until nothing more is idle past the
    /// visibility timeout or this worker has no room left. True when room
    /// ran out before the levels were drained.
    pub(super) async fn reclaim_once(&self, conn: &mut Conn) -> Result<bool, redis::RedisError> {
        for priority in (0..PRIORITY_LEVELS).rev() {
            let stream = self.keys.stream(priority);
            let mut cursor = "0-0".to_owned();
            loop {
                let room = self.room();
                if room == 0 {
                    return Ok(true);
                }
                let (next, claimed, claimed_at) = self
                    .claim_idle(conn, priority, &cursor, room.min(MAX_BATCH))
                    .await?;
                if !claimed.is_empty() {
                    self.take_reclaimed(conn, priority, &stream, claimed, claimed_at)
                        .await?;
                }
                if next == "0-0" {
                    break;
                }
                cursor = next;
            }
        }
        Ok(false)
    }

    /// Claims up to `count` entries of level `priority` idle past the
    /// visibility timeout, from `cursor` (`XAUTOCLAIM`), and reserves them
    /// at once (`Engine::reserve`). Returns the next cursor, the claimed
    /// entries not known already (an entry of this worker's own idle past
    /// the timeout, its renewals having failed, that it still holds or
    /// writes is left to that run) and when the claim replied.
    pub(super) async fn claim_idle(
        &self,
        conn: &mut Conn,
        priority: u32,
        cursor: &str,
        count: usize,
    ) -> Result<(String, Vec<Entry>, Instant), redis::RedisError> {
        let reply: RedisValue = redis::cmd("XAUTOCLAIM")
            .arg(self.keys.stream(priority))
            .arg(GROUP)
            .arg(&self.config.worker_id)
            .arg(self.config.visibility_ms)
            .arg(cursor)
            .arg("COUNT")
            .arg(count)
            .query_async(conn)
            .await?;
        let claimed_at = Instant::now();
        let (next, claimed) = autoclaim_reply(reply)?;
        let claimed = self
            .reserve(claimed.into_iter().map(|entry| (priority, entry)).collect())
            .into_iter()
            .map(|(_, entry)| entry)
            .collect();
        Ok((next, claimed, claimed_at))
    }

    /// Runs reclaimed entries (reserved in `by_entry`) again, or
    /// dead-letters those delivered more than the delivery limit; when their
    /// delivery counts cannot be read, releases them: they are then this
    /// worker's orphans, which the failed pass has the worker take up.
    pub(super) async fn take_reclaimed(
        &self,
        conn: &mut Conn,
        priority: u32,
        stream: &str,
        claimed: Vec<Entry>,
        claimed_at: Instant,
    ) -> Result<(), redis::RedisError> {
        let deliveries = match self.deliveries(conn, stream, &claimed).await {
            Ok(deliveries) => deliveries,
            Err(err) => {
                self.release_reserved(priority, claimed.iter().map(|entry| &entry.id));
                return Err(err);
            }
        };
        self.log(
            30,
            format!(
                "reclaimed {} entries of stream {stream} idle past the visibility timeout",
                claimed.len()
            ),
        );
        let mut runnable = Vec::new();
        for entry in claimed {
            let delivered = deliveries.get(&entry.id).copied().unwrap_or(0) as u64;
            if delivered > self.config.max_deliveries {
                let text = |name| {
                    entry
                        .field(name)
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .map(str::to_owned)
                };
                let rejection = Rejection {
                    reason: "delivery_limit",
                    detail: format!(
                        "delivered {delivered} times, over the limit of {}: every run ended its worker",
                        self.config.max_deliveries
                    ),
                    // As for a malformed entry: an id too long to be one
                    // is not repeated (SPEC.md section 9).
                    job_id: text("id")
                        .filter(|id| id.len() <= MAX_NAME_BYTES)
                        .unwrap_or_default(),
                    task: text("task").unwrap_or_default(),
                    id_field: entry.field("id").unwrap_or_default().to_vec(),
                };
                let raw = entry.field("job").unwrap_or_default().to_vec();
                self.dead_letter(priority, entry.id, rejection, raw, None);
            } else {
                runnable.push((priority, entry));
            }
        }
        self.accept(conn, runnable, claimed_at, true, None).await;
        Ok(())
    }

    /// The delivery counts of `claimed` (entries of `stream` this worker has
    /// just claimed). `XPENDING` over their id range lists this worker's own
    /// entries in it too (held, or being written), however many: the range
    /// is read a page at a time until every claimed entry is seen, so none
    /// passes for delivered 0 times and escapes the delivery limit.
    async fn deliveries(
        &self,
        conn: &mut Conn,
        stream: &str,
        claimed: &[Entry],
    ) -> Result<HashMap<String, usize>, redis::RedisError> {
        let mut first = &claimed[0].id;
        let mut last = first;
        for entry in claimed {
            if stream_id_before(&entry.id, first) {
                first = &entry.id;
            }
            if stream_id_before(last, &entry.id) {
                last = &entry.id;
            }
        }
        let wanted: HashSet<&str> = claimed.iter().map(|entry| entry.id.as_str()).collect();
        let mut deliveries = HashMap::with_capacity(claimed.len());
        let mut start = first.clone();
        loop {
            let page: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
                .arg(stream)
                .arg(GROUP)
                .arg(&start)
                .arg(last)
                .arg(MAX_BATCH)
                .arg(&self.config.worker_id)
                .query_async(conn)
                .await?;
            let full = page.ids.len() == MAX_BATCH;
            let Some(next) = page.ids.last().map(|p| format!("({}", p.id)) else {
                break;
            };
            deliveries.extend(
                page.ids
                    .into_iter()
                    .filter(|p| wanted.contains(p.id.as_str()))
                    .map(|p| (p.id, p.times_delivered)),
            );
            if !full || deliveries.len() == wanted.len() {
                break;
            }
            start = next;
        }
        Ok(deliveries)
    }

    /// Deletes the consumers of gone workers (no heartbeat key) that hold
    /// nothing on a level (`retire.lua`); candidates are consumers other
    /// than this worker, with no pending entry, idle past the visibility
    /// timeout.
    pub(super) async fn retire_gone(&self, conn: &mut Conn) -> Result<(), redis::RedisError> {
        let mut pipe = redis::pipe();
        for stream in self.keys.streams_low_to_high() {
            pipe.cmd("XINFO").arg("CONSUMERS").arg(stream).arg(GROUP);
        }
        let levels: Vec<Vec<HashMap<String, RedisValue>>> = pipe.query_async(conn).await?;
        for (priority, consumers) in levels.into_iter().enumerate() {
            let candidates: Vec<String> = consumers
                .iter()
                .filter_map(|info| {
                    let name: String = redis::from_redis_value(info.get("name")?).ok()?;
                    let pending: u64 = redis::from_redis_value(info.get("pending")?).ok()?;
                    let idle: u64 = redis::from_redis_value(info.get("idle")?).ok()?;
                    (name != self.config.worker_id
                        && pending == 0
                        && idle > self.config.visibility_ms)
                        .then_some(name)
                })
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let mut call = self.scripts.retire.key(self.keys.stream(priority as u32));
            call.arg(GROUP);
            for name in &candidates {
                call.key(self.keys.worker(name)).arg(name);
            }
            let retired: Vec<String> = call.invoke_async(conn).await?;
            if !retired.is_empty() {
                self.log(
                    20,
                    format!(
                        "removed {} consumers of gone workers from stream {}",
                        retired.len(),
                        self.keys.stream(priority as u32)
                    ),
                );
            }
        }
        Ok(())
    }
}
