//! Orphans: entries Redis delivered to this worker that it never heard of.
//! A read or claim whose reply was lost (the connection broke after Redis
//! ran it) leaves its entries pending under this worker's name, where no
//! other worker takes them before the visibility timeout, and a burst run
//! would end without them. After such a failure the worker lists its own
//! pending entries and takes up those it neither holds nor is writing:
//! the fetcher before its next read, the reclaimer after its pass.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use ardiq_client::entries::entries;
use ardiq_spec::limits::MAX_BATCH;
use ardiq_spec::GROUP;
use ardiq_spec::PRIORITY_LEVELS;
use redis::streams::{StreamPendingCountReply, StreamPendingId};
use redis::Value as RedisValue;

use super::fetch::is_nogroup;
use super::Engine;
use crate::conn::Conn;

/// How many calls of this process were sent again after their connection
/// broke (SPEC.md section 14): a call sent again may have run twice.
pub(super) fn resent_calls() -> u64 {
    ardiq_client::connection::error_counts().1
}

impl Engine {
    /// A read or claim failed without Redis's answer, or was sent again
    /// after its connection broke: it may have run without the worker
    /// hearing of its entries.
    pub(super) fn may_have_orphans(&self) {
        self.orphans_possible.store(true, Ordering::SeqCst);
    }

    /// After a read or claim that began when `resent_calls()` was `before`:
    /// a call of the process sent again meanwhile may have been this one.
    pub(super) fn note_resent_since(&self, before: u64) {
        if resent_calls() != before {
            self.may_have_orphans();
        }
    }

    /// Takes up the orphans when a failure may have left some; an error
    /// when that failed (it is tried again at the next call). A stopping
    /// worker takes up nothing: its orphans are reclaimed like the entries
    /// of a dead worker.
    pub(super) async fn adopt_orphans_if_any(
        &self,
        conn: &mut Conn,
    ) -> Result<(), redis::RedisError> {
        if !self.orphans_possible.load(Ordering::SeqCst)
            || self.local.lock().expect("local").stopping
            || !self.orphans_possible.swap(false, Ordering::SeqCst)
        {
            return Ok(());
        }
        match self.adopt_orphans(conn).await {
            Ok(0) => Ok(()),
            Ok(adopted) => {
                self.log(
                    30,
                    format!("took up {adopted} entries Redis had given this worker by a read or claim whose reply was lost"),
                );
                Ok(())
            }
            Err(err) => {
                self.may_have_orphans();
                Err(err)
            }
        }
    }

    /// Lists this worker's pending entries on every level (one round trip
    /// for a first page of each) and takes up those it does not know of
    /// (`by_entry`: held, or being written) as held jobs; returns how many.
    /// An entry idle for two thirds of the visibility timeout or more is
    /// left to the reclaim, which any worker may make by then (handed-back
    /// entries are among those).
    async fn adopt_orphans(&self, conn: &mut Conn) -> Result<usize, redis::RedisError> {
        let levels: Vec<u32> = (0..PRIORITY_LEVELS).rev().collect();
        let mut pipe = redis::pipe();
        for &priority in &levels {
            pipe.add_command(self.own_pending(priority, "-"));
        }
        let pages: Vec<StreamPendingCountReply> = match pipe.query_async(conn).await {
            Ok(pages) => pages,
            // No group, no entries: the reads create the groups again.
            Err(err) if is_nogroup(&err) => return Ok(0),
            Err(err) => return Err(err),
        };
        let mut listed_at = Instant::now();
        let mut adopted = 0;
        for (priority, page) in levels.into_iter().zip(pages) {
            let mut page = page.ids;
            loop {
                let full = page.len() == MAX_BATCH;
                let after = page.last().map(|p| format!("({}", p.id));
                adopted += self.adopt_listed(conn, priority, page, listed_at).await?;
                let Some(after) = after.filter(|_| full) else {
                    break;
                };
                page = self
                    .own_pending(priority, &after)
                    .query_async::<StreamPendingCountReply>(conn)
                    .await?
                    .ids;
                listed_at = Instant::now();
            }
        }
        Ok(adopted)
    }

    /// `XPENDING` of up to a batch of this worker's entries of a level, from `start`.
    fn own_pending(&self, priority: u32, start: &str) -> redis::Cmd {
        let mut cmd = redis::cmd("XPENDING");
        cmd.arg(self.keys.stream(priority))
            .arg(GROUP)
            .arg(start)
            .arg("+")
            .arg(MAX_BATCH)
            .arg(&self.config.worker_id);
        cmd
    }

    /// Takes up the entries of `listed` (this worker's pending entries of a
    /// level, listed at `listed_at`) that it does not know of.
    async fn adopt_listed(
        &self,
        conn: &mut Conn,
        priority: u32,
        listed: Vec<StreamPendingId>,
        listed_at: Instant,
    ) -> Result<usize, redis::RedisError> {
        let unconfirmed = self.unconfirmed_after();
        // Each orphan is reserved in `by_entry` before it is read: an entry
        // another path takes up, runs and writes (deleting it) between the
        // listing and the reading is then either still known (not an
        // orphan) or already gone from the stream (nothing to run), never
        // read before its write and taken up after it, which ran it twice.
        let orphans: Vec<(String, Duration)> = {
            let mut local = self.local.lock().expect("local");
            listed
                .into_iter()
                .map(|p| (p.id, Duration::from_millis(p.last_delivered_ms as u64)))
                .filter(|(id, idle)| {
                    *idle < unconfirmed && local.by_entry.insert((priority, id.clone()))
                })
                .collect()
        };
        if orphans.is_empty() {
            return Ok(0);
        }
        let stream = self.keys.stream(priority);
        let mut pipe = redis::pipe();
        for (id, _) in &orphans {
            pipe.cmd("XRANGE").arg(&stream).arg(id).arg(id);
        }
        let read = pipe
            .query_async::<Vec<RedisValue>>(conn)
            .await
            .and_then(|ranges| {
                let mut found = Vec::new();
                for range in ranges {
                    // An entry deleted since its delivery has no fields:
                    // nothing to run.
                    found.extend(entries(range)?.into_iter().map(|entry| (priority, entry)));
                }
                Ok(found)
            });
        let found = match read {
            Ok(found) => found,
            Err(err) => {
                self.release_reserved(priority, orphans.iter().map(|(id, _)| id));
                return Err(err);
            }
        };
        // The reservations of entries not found are released.
        let found_ids: HashSet<&str> = found.iter().map(|(_, entry)| entry.id.as_str()).collect();
        self.release_reserved(
            priority,
            orphans
                .iter()
                .map(|(id, _)| id)
                .filter(|id| !found_ids.contains(id.as_str())),
        );
        // Their ownership dates from their delivery: the oldest one's.
        let idlest = orphans
            .iter()
            .map(|(_, idle)| *idle)
            .max()
            .unwrap_or_default();
        let delivered = listed_at.checked_sub(idlest).unwrap_or(listed_at);
        let count = found.len();
        self.accept(conn, found, delivered, true, None).await;
        Ok(count)
    }
}
