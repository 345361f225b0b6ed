//! The finisher: writes what runs produced in batches (`finish.lua`,
//! `retry.lua`, `dead_letter.lua`, `release.lua`), each only for entries
//! this worker still owns; retries while Redis is unreachable or busy, and
//! splits a batch Redis refuses until the refused job is alone and
//! dead-lettered.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ardiq_spec::limits::MAX_BATCH;
use ardiq_spec::Job;
use ardiq_spec::GROUP;
use prost::Message as _;
use redis::Value as RedisValue;
use tokio::sync::mpsc;

use super::admission::Rejection;
use super::orphans::resent_calls;
use super::outcome::Action;
use super::outcome::DeadItem;
use super::outcome::FinishItem;
use super::Engine;
use crate::conn::{is_transient, Conn};

/// Idle time given to handed-back entries: longer than any visibility
/// timeout (about 30 years), so every reclaim pass takes them.
pub(super) const HANDED_BACK_IDLE_MS: u64 = 1_000_000_000_000;

/// Why a write did not happen.
#[derive(Debug)]
pub(super) enum Stored {
    /// Redis answered the write itself with an error: splitting or
    /// dead-lettering is the way on, not trying again.
    Refused(redis::RedisError),
    /// Redis stayed unreachable while the worker was stopping.
    GaveUp,
}

impl Engine {
    /// Writes what runs produced, in batches: one `finish.lua` call for every
    /// terminal status ready at the same moment.
    pub(super) async fn finisher(
        self: Arc<Self>,
        mut conn: Conn,
        mut receiver: mpsc::UnboundedReceiver<Action>,
    ) {
        while let Some(first) = receiver.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(action) => batch.push(action),
                    Err(_) => break,
                }
            }
            let count = batch.len();
            let entries: Vec<(u32, String)> = batch
                .iter()
                .map(|action| {
                    let (priority, entry_id) = action.entry();
                    (priority, entry_id.to_owned())
                })
                .collect();
            self.store(&mut conn, batch).await;
            {
                let mut local = self.local.lock().expect("local");
                for (priority, entry_id) in entries {
                    local.forget(priority, entry_id);
                }
            }
            self.in_finisher.fetch_sub(count, Ordering::SeqCst);
            self.slot_freed.notify_one();
            self.check_exit();
        }
    }

    /// Stores one batch of actions. Returns once each is written, refused
    /// (and then dead-lettered), or given up after Redis stayed unreachable
    /// while stopping (its entry stays pending and is reclaimed).
    pub(super) async fn store(&self, conn: &mut Conn, batch: Vec<Action>) {
        let mut finishes = Vec::new();
        let mut releases: BTreeMap<u32, Vec<(String, String)>> = BTreeMap::new();
        let mut others = Vec::new();
        for action in batch {
            match action {
                Action::Finish(item) => finishes.push(item),
                Action::Release {
                    priority,
                    entry_id,
                    job_id,
                } => releases
                    .entry(priority)
                    .or_default()
                    .push((entry_id, job_id)),
                other => others.push(other),
            }
        }
        if !finishes.is_empty() {
            self.store_finishes(conn, finishes).await;
        }
        for action in others {
            match action {
                Action::Retry {
                    priority,
                    entry_id,
                    due_ms,
                    job,
                    aborted,
                    ttl_ms,
                } => {
                    let record = job.encode_to_vec();
                    let resent = resent_calls();
                    let stored = self
                        .persist("scheduling a retry", conn, |mut conn| {
                            let mut call = self.scripts.retry.key(self.keys.stream(priority));
                            call.key(self.keys.job(&job.id))
                                .key(self.keys.delayed())
                                .key(self.keys.delayed_jobs())
                                .key(self.keys.running())
                                .key(self.keys.abort())
                                .key(self.keys.waiters())
                                .arg(GROUP)
                                .arg(&self.config.worker_id)
                                .arg(&entry_id)
                                .arg(&job.id)
                                .arg(due_ms)
                                .arg(record.as_slice())
                                .arg(aborted.as_slice())
                                .arg(ttl_ms)
                                .arg(self.notify_clock())
                                .arg(self.keys.events());
                            async move { call.invoke_async::<i64>(&mut conn).await }
                        })
                        .await;
                    match stored {
                        Ok(-1) => self.log_lost(&job.id, &entry_id, resent),
                        Ok(_) | Err(Stored::GaveUp) => {}
                        Err(Stored::Refused(err)) => {
                            self.store_unstorable(conn, priority, entry_id, &job, &err)
                                .await;
                        }
                    }
                }
                Action::Dead(dead) => self.store_dead(conn, &dead).await,
                Action::Finish(_) | Action::Release { .. } => unreachable!("sorted out above"),
            }
        }
        for (priority, entries) in releases {
            let stored = self
                .persist("handing back unfinished jobs", conn, |mut conn| {
                    let mut call = self.scripts.release.key(self.keys.stream(priority));
                    call.key(self.keys.running())
                        .arg(GROUP)
                        .arg(&self.config.worker_id)
                        .arg(HANDED_BACK_IDLE_MS);
                    for (entry_id, job_id) in &entries {
                        call.arg(entry_id).arg(job_id);
                    }
                    async move { call.invoke_async::<Vec<String>>(&mut conn).await }
                })
                .await;
            if let Err(Stored::Refused(err)) = stored {
                self.log(
                    40,
                    format!("handing back {} jobs failed: {err}", entries.len()),
                );
            }
        }
    }

    /// Runs one write, again after a pause while the error says Redis is
    /// unreachable or busy. Gives up on those only when stopping, after
    /// about 10 s; any other error is the write's own (`Refused`).
    pub(super) async fn persist<T, F, Fut>(
        &self,
        what: &str,
        conn: &Conn,
        mut call: F,
    ) -> Result<T, Stored>
    where
        F: FnMut(Conn) -> Fut,
        Fut: std::future::Future<Output = Result<T, redis::RedisError>>,
    {
        let mut attempt = 0u32;
        loop {
            // A clone of the multiplexed connection is a handle, not a socket.
            let err = match call(conn.clone()).await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            if !is_transient(&err) {
                return Err(Stored::Refused(err));
            }
            attempt += 1;
            let stopping = self.local.lock().expect("local").stopping;
            if stopping && attempt > 50 {
                self.log(
                    50,
                    format!("{what}: giving up, Redis stayed unreachable ({err}); the entries stay pending and will be reclaimed"),
                );
                return Err(Stored::GaveUp);
            }
            if attempt == 1 || attempt % 25 == 0 {
                self.log(40, format!("{what} failed, retrying: {err}"));
            }
            let pause = Duration::from_millis(u64::from(attempt.min(10)) * 200);
            tokio::time::sleep(pause).await;
        }
    }

    /// Stores terminal statuses with `finish.lua`; a batch Redis refuses is
    /// split until the job it refuses is alone, and that job is
    /// dead-lettered, so one job cannot hold up the others.
    pub(super) async fn store_finishes(&self, conn: &mut Conn, items: Vec<FinishItem>) {
        let mut work = vec![items];
        while let Some(chunk) = work.pop() {
            let resent = resent_calls();
            let stored = self
                .persist("storing results", conn, |mut conn| {
                    let mut call = self.scripts.finish.key(self.keys.running());
                    call.key(self.keys.abort())
                        .key(self.keys.waiters())
                        .arg(GROUP)
                        .arg(&self.config.worker_id)
                        .arg(self.notify_clock())
                        .arg(self.keys.events());
                    for item in &chunk {
                        call.key(self.keys.stream(item.priority))
                            .key(self.keys.job(&item.job.id));
                        call.arg(&item.entry_id)
                            .arg(&item.job.id)
                            .arg(item.ttl_ms)
                            .arg(item.status.as_slice());
                    }
                    self.keep_failures(&mut call, &chunk);
                    async move { call.invoke_async::<Vec<String>>(&mut conn).await }
                })
                .await;
            match stored {
                Ok(lost) => {
                    for job_id in lost {
                        let entry = chunk
                            .iter()
                            .find(|item| item.job.id == job_id)
                            .map_or("", |item| item.entry_id.as_str());
                        self.log_lost(&job_id, entry, resent);
                    }
                }
                Err(Stored::GaveUp) => {}
                Err(Stored::Refused(err)) if chunk.len() > 1 => {
                    self.log(
                        30,
                        format!(
                            "Redis refused a batch of {} results ({err}); storing it in halves",
                            chunk.len()
                        ),
                    );
                    let mut first = chunk;
                    let second = first.split_off(first.len() / 2);
                    work.push(second);
                    work.push(first);
                }
                Err(Stored::Refused(err)) => {
                    let item = chunk.into_iter().next().expect("a chunk of one");
                    self.store_unstorable(conn, item.priority, item.entry_id, &item.job, &err)
                        .await;
                }
            }
        }
    }

    /// Adds the kept failures of `chunk` to its `finish.lua` call (spec 1.1,
    /// SPEC.md section 9.1): the stream's key, its cap, retention and
    /// oldest id to keep, then each failure by its job's place.
    fn keep_failures(&self, call: &mut redis::ScriptInvocation<'_>, chunk: &[FinishItem]) {
        let mut failures = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, item)| item.failure.as_ref().map(|f| (i + 1, &item.job.task, f)))
            .peekable();
        if failures.peek().is_none() {
            return;
        }
        let retention = self.config.failed_retention_ms;
        call.key(self.keys.failed())
            .arg(self.config.failed_maxlen)
            .arg(retention)
            .arg(super::now_ms().saturating_sub(retention as i64).max(0));
        for (place, task, failure) in failures {
            call.arg(place)
                .arg(task)
                .arg(&failure.error_type)
                .arg(failure.record.as_slice());
        }
    }

    /// Dead-letters a job whose outcome Redis refused to store.
    pub(super) async fn store_unstorable(
        &self,
        conn: &mut Conn,
        priority: u32,
        entry_id: String,
        job: &Job,
        err: &redis::RedisError,
    ) {
        let rejection = Rejection {
            reason: "unstorable",
            detail: format!("Redis refused to store the job's outcome: {err}"),
            job_id: job.id.clone(),
            task: job.task.clone(),
            id_field: job.id.clone().into_bytes(),
        };
        let dead = self.dead_item(priority, entry_id, rejection, job.encode_to_vec(), None);
        self.store_dead(conn, &dead).await;
    }

    pub(super) async fn store_dead(&self, conn: &mut Conn, dead: &DeadItem) {
        let resent = resent_calls();
        let stored = self
            .persist("dead-lettering a job", conn, |mut conn| {
                let mut call = self
                    .scripts
                    .dead_letter
                    .key(self.keys.stream(dead.priority));
                call.key(self.keys.dead())
                    .key(self.keys.running())
                    .key(self.keys.job(&dead.job_id))
                    .key(self.keys.waiters())
                    .arg(GROUP)
                    .arg(&self.config.worker_id)
                    .arg(&dead.entry_id)
                    .arg(&dead.job_id)
                    .arg(&dead.task)
                    .arg(dead.reason)
                    .arg(dead.record.as_slice())
                    .arg(dead.status.as_slice())
                    .arg(dead.ttl_ms)
                    .arg(self.config.dead_maxlen)
                    .arg(self.notify_clock())
                    .arg(self.keys.events())
                    .arg(dead.running_field.as_slice());
                async move { call.invoke_async::<RedisValue>(&mut conn).await }
            })
            .await;
        match stored {
            Ok(RedisValue::Int(0)) => self.log_lost(&dead.job_id, &dead.entry_id, resent),
            Ok(_) | Err(Stored::GaveUp) => {}
            Err(Stored::Refused(err)) => self.log(
                50,
                format!(
                    "dead-lettering entry {} (job {:?}) failed: {err}; it stays pending and will be reclaimed",
                    dead.entry_id, dead.job_id
                ),
            ),
        }
    }

    /// Tells that a write found its entry no longer this worker's.
    /// `resent_before`: `resent_calls()` when the write began. A write sent
    /// again after its connection broke (SPEC.md section 14) finds the
    /// entry gone when its first send ran: the outcome is stored then.
    pub(super) fn log_lost(&self, job_id: &str, entry_id: &str, resent_before: u64) {
        if resent_calls() != resent_before {
            self.log(
                20,
                format!(
                    "job {job_id} (entry {entry_id}): a write sent again after a broken connection found the entry done; the first send stored the outcome, unless another worker had reclaimed the entry"
                ),
            );
            return;
        }
        self.log(
            30,
            format!(
                "job {job_id} (entry {entry_id}) is no longer this worker's (reclaimed elsewhere, or Redis lost it): its outcome here was not written"
            ),
        );
    }
}
