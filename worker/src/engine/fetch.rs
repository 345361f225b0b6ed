//! Fetching: level-by-level reads with `fetch.lua`, the idle blocking read,
//! turning entries into held jobs, burst mode's end, and consumer groups
//! created again when Redis lost them.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use ardiq_client::entries::{bytes, read_reply, text};
use ardiq_spec::QueueKeys;
use ardiq_spec::GROUP;
use ardiq_spec::PRIORITY_LEVELS;
use redis::Value as RedisValue;

use super::admission::validate;
use super::admission::Entry;
use super::local::Held;
use super::now_ms;
use super::orphans::resent_calls;
use super::outcome::Outcome;
use super::run::Run;
use super::Engine;
use crate::conn::Conn;

/// Creates the consumer group on every level (SPEC.md section 1): from id
/// 0, so entries added before it existed are delivered; a group that
/// exists is left as it is.
pub(super) async fn create_groups(
    keys: &QueueKeys,
    conn: &mut Conn,
) -> Result<(), redis::RedisError> {
    // One call per level: this runs at start and after Redis lost its data.
    for stream in keys.streams_low_to_high() {
        let created: Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(conn)
            .await;
        if let Err(err) = created {
            if err.code() != Some("BUSYGROUP") {
                return Err(err);
            }
        }
    }
    Ok(())
}

/// The priority of a stream key `ardiq:{q}:stream:<p>` (0 when unreadable).
fn priority_of(key: &[u8]) -> u32 {
    key.rsplit(|b| *b == b':')
        .next()
        .and_then(|p| std::str::from_utf8(p).ok())
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or(0)
        .min(PRIORITY_LEVELS - 1)
}

fn reply_error(detail: &str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::TypeError,
        "unexpected fetch.lua reply",
        detail.to_owned(),
    ))
}

/// Entries read, with their levels, and the job ids among them that have an
/// abort request.
pub(super) type Fetched = (Vec<(u32, Entry)>, HashSet<String>);

/// `fetch.lua`'s reply (SPEC.md section 10): per level one flat array of the
/// stream key, then per entry its id, its number of field strings and those
/// strings; then the aborted job ids. Taken apart here without a map per
/// entry, the field values moved out of the reply, not copied.
pub(super) fn parse_fetch_reply(reply: RedisValue) -> Result<Fetched, redis::RedisError> {
    let RedisValue::Array(parts) = reply else {
        return Err(reply_error("not an array"));
    };
    let mut parts = parts.into_iter();
    let (Some(RedisValue::Array(levels)), Some(RedisValue::Array(aborted))) =
        (parts.next(), parts.next())
    else {
        return Err(reply_error("not {streams, aborted}"));
    };
    let mut entries = Vec::new();
    for level in levels {
        let RedisValue::Array(items) = level else {
            return Err(reply_error("a level is not an array"));
        };
        let mut items = items.into_iter();
        let key = items
            .next()
            .and_then(bytes)
            .ok_or_else(|| reply_error("a level without its stream key"))?;
        let priority = priority_of(&key);
        while let Some(id) = items.next() {
            let id = text(id).ok_or_else(|| reply_error("an entry id is not a string"))?;
            let count = match items.next() {
                Some(RedisValue::Int(n)) => usize::try_from(n).unwrap_or(0),
                _ => return Err(reply_error("an entry without its field count")),
            };
            let mut fields = Vec::with_capacity(count / 2);
            for _ in 0..count / 2 {
                let (Some(name), Some(value)) = (items.next(), items.next()) else {
                    return Err(reply_error("an entry shorter than its field count"));
                };
                if let (Some(name), Some(value)) = (bytes(name), bytes(value)) {
                    fields.push((name, value));
                }
            }
            if count % 2 == 1 {
                items.next(); // a name without a value cannot come from XADD
            }
            entries.push((priority, Entry { id, fields }));
        }
    }
    let aborted = aborted.into_iter().filter_map(text).collect();
    Ok((entries, aborted))
}

/// Whether an error says the stream's consumer group is gone.
pub(super) fn is_nogroup(err: &redis::RedisError) -> bool {
    err.code() == Some("NOGROUP") || err.to_string().contains("NOGROUP")
}

/// Whether a blocking read was ended by Redis (`UNBLOCKED`): its stream was
/// deleted meanwhile (`FLUSHALL`, `DEL`), or a client unblocked it.
fn is_unblocked(err: &redis::RedisError) -> bool {
    err.code() == Some("UNBLOCKED")
}

impl Engine {
    /// Creates the queue's consumer groups again after Redis lost them, and
    /// reads Redis's memory policy again: the data may be gone because
    /// another server took over, with a policy of its own.
    pub(super) async fn restore_groups(&self, conn: &mut Conn) -> Result<(), redis::RedisError> {
        create_groups(&self.keys, conn).await?;
        if let Some(run) = self.run.upgrade() {
            run.warn_if_redis_may_evict(conn).await;
        }
        Ok(())
    }

    /// Puts entries a read or claim has just given this worker in
    /// `by_entry`, at once, before any other wait: the list of its own
    /// pending entries (orphans) then shows them as known, so no other path
    /// takes them up, runs and writes them while they wait here, which would
    /// have them taken up again after their write (run twice, their
    /// `running` field left behind). Returns those not known already (taken
    /// up meanwhile by another path, or an entry whose write is under way).
    pub(super) fn reserve(&self, entries: Vec<(u32, Entry)>) -> Vec<(u32, Entry)> {
        let mut local = self.local.lock().expect("local");
        entries
            .into_iter()
            .filter(|(priority, entry)| local.by_entry.insert((*priority, entry.id.clone())))
            .collect()
    }

    /// Releases entries reserved in `by_entry` that will not be taken up.
    pub(super) fn release_reserved<'a>(
        &self,
        priority: u32,
        ids: impl Iterator<Item = &'a String>,
    ) {
        let mut local = self.local.lock().expect("local");
        for id in ids {
            local.forget(priority, id.clone());
        }
    }

    /// Turns entries a read or claim gave this worker, reserved in
    /// `by_entry` ([`Engine::reserve`]), into held jobs (or dead letters);
    /// they stay in `by_entry` until their write is done. `read_at` is when
    /// the read or claim that gave them replied. `fetched`: for entries
    /// `fetch.lua` read, the ids it found aborted (it has recorded them all
    /// in `running`); `None` for entries read or reclaimed otherwise, which
    /// this records and checks itself.
    pub(super) async fn accept(
        &self,
        conn: &mut Conn,
        entries: Vec<(u32, Entry)>,
        read_at: Instant,
        dispatch: bool,
        fetched: Option<HashSet<String>>,
    ) {
        let now = now_ms();
        let mut good = Vec::new();
        for (priority, entry) in entries {
            match validate(&entry, &self.config.tasks) {
                Ok(accepted) => good.push((priority, entry.id, accepted)),
                Err(rejection) => {
                    let raw = entry.field("job").unwrap_or_default().to_vec();
                    self.dead_letter(priority, entry.id, rejection, raw, None);
                }
            }
        }
        if good.is_empty() {
            return;
        }
        let ids: Vec<&str> = good.iter().map(|(_, _, a)| a.job.id.as_str()).collect();
        let aborted = match fetched {
            Some(aborted) => ids.iter().map(|id| aborted.contains(*id)).collect(),
            None => self.register(conn, &ids).await,
        };
        {
            let mut local = self.local.lock().expect("local");
            for ((priority, entry_id, accepted), is_aborted) in good.into_iter().zip(aborted) {
                let handle = Run::handle(self.index, local.next_handle);
                local.next_handle += 1;
                let held = Held {
                    job: accepted.job,
                    entry_id,
                    priority,
                    fetched: Instant::now(),
                    confirmed: read_at,
                    started_ms: 0,
                    started_at: None,
                    running: false,
                    cancel_sent: false,
                    values: Some((accepted.args, accepted.kwargs)),
                    progress: None,
                };
                if is_aborted {
                    let action = self.outcome_action(held, Outcome::Aborted, now, None);
                    drop(local);
                    self.send(action);
                    local = self.local.lock().expect("local");
                    continue;
                }
                if held.job.attempt == 0 {
                    self.journal("enqueued", &held.job, held.job.enqueued_ms, None);
                }
                local.held.insert(handle, held);
                local.waiting[priority as usize].push_back(handle);
            }
        }
        if dispatch {
            self.dispatch();
        }
    }

    /// Records `ids` in `running` for this worker and returns which of them
    /// have an abort request (one round trip).
    pub(super) async fn register(&self, conn: &mut Conn, ids: &[&str]) -> Vec<bool> {
        let mut pipe = redis::pipe();
        pipe.cmd("SMISMEMBER").arg(self.keys.abort()).arg(ids);
        let mut hset = redis::cmd("HSET");
        hset.arg(self.keys.running());
        for id in ids {
            hset.arg(*id).arg(&self.config.worker_id);
        }
        pipe.add_command(hset).ignore();
        match pipe.query_async::<(Vec<bool>,)>(conn).await {
            Ok((flags,)) => flags,
            Err(err) => {
                self.log(
                    30,
                    format!("abort check failed, running the batch anyway: {err}"),
                );
                vec![false; ids.len()]
            }
        }
    }

    /// One `XREADGROUP` of up to `count` new entries from `streams`,
    /// blocking up to `block_ms` when given.
    pub(super) fn read_cmd(
        &self,
        streams: &[String],
        count: usize,
        block_ms: Option<u64>,
    ) -> redis::Cmd {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(&self.config.worker_id)
            .arg("COUNT")
            .arg(count);
        if let Some(block_ms) = block_ms {
            cmd.arg("BLOCK").arg(block_ms);
        }
        cmd.arg("STREAMS").arg(streams);
        for _ in streams {
            cmd.arg(">");
        }
        cmd
    }

    /// One `XREADGROUP` of new entries ([`Engine::read_cmd`]); what it
    /// returns is reserved in `by_entry` ([`Engine::reserve`]).
    pub(super) async fn read(
        &self,
        reader: &mut Conn,
        streams: &[String],
        count: usize,
        block_ms: Option<u64>,
    ) -> Result<Vec<(u32, Entry)>, redis::RedisError> {
        let reply: RedisValue = self
            .read_cmd(streams, count, block_ms)
            .query_async(reader)
            .await?;
        let read = read_reply(reply)?
            .into_iter()
            .flat_map(|(key, entries)| {
                let priority = priority_of(&key);
                entries.into_iter().map(move |entry| (priority, entry))
            })
            .collect();
        Ok(self.reserve(read))
    }

    /// Reads up to `want` entries level by level, highest priority first,
    /// records them in `running` and returns them, reserved in `by_entry`,
    /// with the ids that have an abort request (`fetch.lua`: one round trip
    /// for the whole pass).
    pub(super) async fn read_by_priority(
        &self,
        reader: &mut Conn,
        streams: &[String],
        want: usize,
    ) -> Result<Fetched, redis::RedisError> {
        let mut fetch = self.scripts.fetch.key(self.keys.running());
        fetch.key(self.keys.abort());
        for stream in streams {
            fetch.key(stream);
        }
        fetch.arg(GROUP).arg(&self.config.worker_id).arg(want);
        let reply: RedisValue = fetch.invoke_async(reader).await?;
        let (read, aborted) = parse_fetch_reply(reply)?;
        Ok((self.reserve(read), aborted))
    }

    pub(super) async fn fetcher(self: Arc<Self>, mut conn: Conn, mut reader: Conn) {
        let streams = self.keys.streams_high_to_low();
        // Burst mode ends after two empty reads around a drained check, so a
        // job the promoter moved in between is not left behind.
        let mut drained_once = false;
        // What the idle read woke up with, held but not started until a pass
        // has read the levels down to theirs, and how many levels that is.
        let mut woken: Vec<(u32, Entry)> = Vec::new();
        // When the idle read returned them: their ownership dates from then.
        let mut woken_at = Instant::now();
        let mut levels = streams.len();
        loop {
            if let Err(err) = self.adopt_orphans_if_any(&mut conn).await {
                if self.read_failed(&mut conn, &err).await {
                    break;
                }
                continue;
            }
            let (want, low_water) = {
                let local = self.local.lock().expect("local");
                if local.stopping {
                    break;
                }
                let config = &self.config;
                let prefetch =
                    local.prefetch(config.concurrency, config.prefetch, config.prefetch_max);
                let cap = config.concurrency + prefetch;
                let want = cap.saturating_sub(local.occupying(cap) + woken.len());
                // Read again once half the prefetch has started, not at every
                // freed slot: each pass costs the same few commands however
                // many entries it reads. Idle slots always mean a read, since
                // then more than the whole prefetch is missing.
                (want, (prefetch / 2).max(1))
            };
            if want < low_water {
                if !woken.is_empty() {
                    // Full already: what the idle read brought starts in turn.
                    self.accept(&mut conn, std::mem::take(&mut woken), woken_at, true, None)
                        .await;
                    levels = streams.len();
                    continue;
                }
                // Jobs a wake-up read left waiting start now that no read is due.
                self.dispatch();
                self.slot_freed.notified().await;
                continue;
            }
            let resent = resent_calls();
            let pass = self.read_by_priority(&mut reader, &streams[..levels], want);
            let read = if woken.is_empty() {
                pass.await
            } else {
                // The woken entries' registration and the pass over the
                // levels above them share one round trip's wait.
                let registered =
                    self.accept(&mut conn, std::mem::take(&mut woken), woken_at, false, None);
                tokio::join!(registered, pass).1
            };
            let read_at = Instant::now();
            self.note_resent_since(resent);
            levels = streams.len();
            let (entries, aborted) = match read {
                Ok(read) => read,
                Err(err) => {
                    self.read_may_have_run(&err);
                    if self.read_failed(&mut conn, &err).await {
                        break;
                    }
                    continue;
                }
            };
            let filled = entries.len() >= want;
            if !entries.is_empty() {
                drained_once = false;
                self.accept(&mut conn, entries, read_at, true, Some(aborted))
                    .await;
                if filled || self.config.burst {
                    continue;
                }
            } else if self.config.burst {
                if self.burst_drained(&mut conn).await {
                    if drained_once && !self.orphans_possible.load(Ordering::SeqCst) {
                        break;
                    }
                    drained_once = true;
                } else {
                    drained_once = false;
                }
                continue;
            }
            // The levels read had no more: start what is waiting. (A short
            // pass needs no second one: the idle read below returns at once
            // when entries came meanwhile.)
            self.dispatch();
            // Idle: wait on every level at once. What this wakes up with is
            // held, not started, until the next pass has read the levels
            // above it (and its own, for the rest of a burst); lower ones
            // wait for the next idle read, which returns at once.
            let resent = resent_calls();
            let idle_read = self
                .read(&mut reader, &streams, 1, Some(self.config.block_ms))
                .await;
            self.note_resent_since(resent);
            match idle_read {
                Ok(read) if !read.is_empty() => {
                    woken_at = Instant::now();
                    let lowest = read.iter().map(|(p, _)| *p).min().unwrap_or(0);
                    levels = (PRIORITY_LEVELS - lowest) as usize;
                    woken = read;
                }
                Ok(_) => {}
                Err(err) => {
                    self.read_may_have_run(&err);
                    if self.read_failed(&mut conn, &err).await {
                        break;
                    }
                }
            }
        }
        if !woken.is_empty() {
            // Stopping: the woken entries are held like any other, so the
            // stop hands them back.
            self.accept(&mut conn, woken, woken_at, false, None).await;
        }
        self.request_stop();
    }

    /// A read that failed without Redis's answer (the connection broke, or
    /// the reply did not come in time, or could not be read) may have run:
    /// its entries would then be this worker's, unknown to it.
    fn read_may_have_run(&self, err: &redis::RedisError) {
        if err.code().is_none() && !is_unblocked(err) {
            self.may_have_orphans();
        }
    }

    /// After a failed read: a missing consumer group (Redis lost its data;
    /// a blocking read learns it as `UNBLOCKED`) is created again at once;
    /// other errors wait a second. True when the worker is stopping
    /// meanwhile.
    pub(super) async fn read_failed(&self, conn: &mut Conn, err: &redis::RedisError) -> bool {
        if is_nogroup(err) || is_unblocked(err) {
            self.log(
                30,
                format!("the consumer groups of queue {:?} are gone (Redis lost its data?): creating them again", self.keys.queue()),
            );
            match self.restore_groups(conn).await {
                Ok(()) => return false,
                Err(err) => self.log(40, format!("creating the consumer groups failed: {err}")),
            }
        } else {
            self.log(40, format!("fetching failed, retrying in 1 s: {err}"));
        }
        self.sleep_or_stop(Duration::from_secs(1)).await
    }

    /// In burst mode: true once nothing is held, every write is done and no
    /// delayed job is due (with `burst_waits_delayed`, none is delayed at
    /// all: until the next one is due this waits, at most a promote
    /// interval at a time, and answers false).
    pub(super) async fn burst_drained(&self, conn: &mut Conn) -> bool {
        loop {
            let busy = !self.local.lock().expect("local").held.is_empty()
                || self.in_finisher.load(Ordering::SeqCst) > 0;
            if !busy {
                break;
            }
            tokio::select! {
                () = self.slot_freed.notified() => {},
                () = tokio::time::sleep(Duration::from_millis(20)) => {},
            }
        }
        match self.promote_once(conn).await {
            Ok((moved, _)) if moved > 0 => false,
            Ok((_, next_due)) if next_due < 0 || !self.config.burst_waits_delayed => true,
            Ok((_, next_due)) => {
                let until_due = u64::try_from(next_due - now_ms()).unwrap_or(0);
                let pause = until_due.clamp(1, self.config.promote_interval_ms);
                // A stop meanwhile is seen by the caller's next pass.
                let _ = self.sleep_or_stop(Duration::from_millis(pause)).await;
                false
            }
            Err(err) => {
                self.log(40, format!("promoting delayed jobs failed: {err}"));
                false
            }
        }
    }
}
