//! Inspection for operators (spec 1.1, SPEC.md section 20): a queue at a
//! glance (`inspect.lua`), its workers from their heartbeats, its jobs by
//! state a page at a time, one job's full record, and the queues a Redis
//! holds. Every call is bounded: no `KEYS`, and `SCAN` only to find the
//! queues, which have no registry of their own.

use std::collections::HashMap;
use std::sync::LazyLock;

use ardiq_spec::{
    scripts, Error as WireError, Failure as FailureRecord, Heartbeat, Job as JobRecord, Status,
    GROUP, PRIORITY_LEVELS,
};
use prost::Message as _;
use redis::{Script, Value as RedisValue};

use crate::client::Client;
use crate::enqueue::now_ms;
use crate::job::JobStatus;
use crate::{Error, Result};

static INSPECT: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::INSPECT));
static HELD: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::HELD));
static SCHEDULED: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::SCHEDULED));

/// Most jobs one page lists.
pub const MAX_PAGE: usize = 1_000;

/// One priority level of a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelInfo {
    /// The level, 0..=9.
    pub priority: u32,
    /// Entries no worker has fetched yet.
    pub waiting: u64,
    /// Entries workers hold (running, waiting in a worker, or handed back).
    pub held: u64,
    /// When the oldest waiting entry was queued, ms (its stream id's time).
    pub oldest_waiting_ms: Option<i64>,
}

/// A queue at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    /// The queue name.
    pub queue: String,
    /// Levels 9 down to 0.
    pub levels: Vec<LevelInfo>,
    /// Waiting entries over every level.
    pub waiting: u64,
    /// Held entries over every level.
    pub held: u64,
    /// Jobs waiting for their due time (delays and retries).
    pub scheduled: u64,
    /// The earliest due time, ms.
    pub next_due_ms: Option<i64>,
    /// Jobs in `running`.
    pub running: u64,
    /// Dead letters.
    pub dead: u64,
    /// Kept failures.
    pub failed: u64,
    /// Workers that sent a heartbeat in the last minute, gone ones included.
    pub workers: u64,
    /// When the oldest waiting job of any level was queued, ms.
    pub oldest_waiting_ms: Option<i64>,
    /// Whether any key of the queue exists (a queue never used has none).
    pub exists: bool,
}

impl QueueInfo {
    /// How long the oldest waiting job has waited at `now_ms`, ms (0 when
    /// nothing waits).
    pub fn lag_ms(&self, now_ms: i64) -> i64 {
        self.oldest_waiting_ms
            .map_or(0, |oldest| (now_ms - oldest).max(0))
    }
}

/// A worker of the queue, from `workers` and its heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerInfo {
    /// The worker id (its consumer name).
    pub worker_id: String,
    /// Its last heartbeat, ms.
    pub seen_ms: i64,
    /// Whether its heartbeat key still exists; a gone worker's entries are
    /// reclaimed by the others.
    pub alive: bool,
    /// The heartbeat record (host, pid, queues, concurrency, counters);
    /// `None` for a gone worker.
    pub heartbeat: Option<Heartbeat>,
}

/// Which jobs to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListState {
    /// Entries workers hold (SPEC.md section 20: running, or waiting in a
    /// worker, or handed back).
    Running,
    /// Waiting for their due time, soonest first.
    Scheduled,
    /// Kept failures, oldest first.
    Failed,
    /// Dead letters, oldest first.
    Dead,
}

impl ListState {
    /// `running`, `scheduled`, `failed` or `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Scheduled => "scheduled",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }

    /// The state of that name.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for another name.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "running" => Self::Running,
            "scheduled" => Self::Scheduled,
            "failed" => Self::Failed,
            "dead" => Self::Dead,
            other => {
                return Err(Error::InvalidOption(format!(
                    "invalid state {other:?}: it must be running, scheduled, failed or dead"
                )))
            }
        })
    }
}

/// One listed job; which fields are set depends on its state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListedJob {
    /// The job id (empty for a dead letter whose entry had none).
    pub job_id: String,
    /// The task name.
    pub task: String,
    /// The job record when known: arguments, attempt, options, headers.
    pub job: Option<JobRecord>,
    /// The entry id: in its priority stream (running), or in the
    /// kept-failures or dead-letter stream (for replay and delete).
    pub entry_id: String,
    /// Running: the worker holding it; failed and dead: the one that ended it.
    pub worker_id: String,
    /// Priority level.
    pub priority: u32,
    /// Scheduled: the due time; failed: when it failed; dead: when it died, ms.
    pub at_ms: i64,
    /// Running: how long since the worker last renewed or fetched it, ms.
    pub idle_ms: u64,
    /// Running: how often it was delivered.
    pub deliveries: u64,
    /// Running: whether the holder is running it (`running` names it);
    /// false for an entry handed back or left by a gone worker.
    pub in_running: bool,
    /// Failed and dead: the error.
    pub error: Option<WireError>,
    /// Dead: the reason code (SPEC.md section 9).
    pub reason: String,
    /// Failed: runs started, including the last.
    pub attempts: u32,
    /// Failed and dead: why the entry's record does not decode, `None` when
    /// it does. Such an entry is listed (its id, and the `id`, `task` and
    /// `reason` fields it has) so it can be seen and deleted; it holds no
    /// job to replay.
    pub malformed: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobPage {
    /// The jobs, in the listing's order.
    pub jobs: Vec<ListedJob>,
    /// The cursor of the next page, `None` at the end.
    pub next: Option<String>,
}

/// Everything known about one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDetails {
    /// The state.
    pub status: JobStatus,
    /// The status record (terminal: the result, error, times, worker).
    pub record: Option<Status>,
    /// A scheduled job's record.
    pub job: Option<JobRecord>,
    /// A scheduled job's due time, ms.
    pub due_ms: Option<i64>,
    /// A running job's worker.
    pub worker_id: Option<String>,
}

/// The time part of a stream entry id, ms.
pub(crate) fn entry_ms(entry_id: &str) -> Option<i64> {
    entry_id.split('-').next()?.parse().ok()
}

fn malformed(what: &str, reply: &RedisValue) -> Error {
    Error::MalformedRecord(format!("{what} replied {reply:?}"))
}

fn int(value: &RedisValue) -> Option<i64> {
    redis::from_redis_value(value).ok()
}

fn bytes(value: &RedisValue) -> Vec<u8> {
    redis::from_redis_value(value).unwrap_or_default()
}

fn text(value: &RedisValue) -> String {
    String::from_utf8_lossy(&bytes(value)).into_owned()
}

/// Whether `due` is a score as Redis writes one (`-?digits[.digits][e±digits]`):
/// the due-time part of a scheduled listing's cursor.
fn is_score(due: &str) -> bool {
    fn digits(part: &str) -> bool {
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
    }
    let unsigned = due.strip_prefix('-').unwrap_or(due);
    let (number, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((number, exponent)) => (number, Some(exponent)),
        None => (unsigned, None),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
    digits(whole)
        && digits(fraction)
        && exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)))
}

/// Whether `id` is a whole stream entry id, `<ms>-<sequence>` (each a u64),
/// as every listing's page gives: anything else would reach Redis as a
/// range bound it refuses (or, for `held.lua`, reads from an unseen place).
pub(crate) fn is_entry_id(id: &str) -> bool {
    id.split_once('-').is_some_and(|(ms, sequence)| {
        [ms, sequence]
            .iter()
            .all(|part| part.bytes().all(|b| b.is_ascii_digit()) && part.parse::<u64>().is_ok())
    })
}

fn invalid_cursor(cursor: &str) -> Error {
    Error::InvalidOption(format!("invalid cursor {cursor:?}"))
}

/// How long a worker stays listed after its last heartbeat, ms (SPEC.md
/// section 20): as long as live workers keep it in `workers`.
const WORKER_LISTED_MS: i64 = 60_000;

/// The fields of one stream entry, by name.
pub(crate) type EntryFields = HashMap<String, RedisValue>;

impl Client {
    /// The queue at a glance (`inspect.lua`, one round trip).
    ///
    /// # Errors
    /// Connection and Redis errors; [`Error::MalformedRecord`] for a reply
    /// the script does not give.
    pub async fn queue_info(&self) -> Result<QueueInfo> {
        let keys = &self.inner.keys;
        let mut call = INSPECT.key(keys.streams_low_to_high());
        call.key(keys.delayed())
            .key(keys.running())
            .key(keys.dead())
            .key(keys.failed())
            .key(keys.workers())
            .arg(GROUP)
            .arg(now_ms());
        let reply: RedisValue = call
            .invoke_async(&mut self.connection())
            .await
            .map_err(Error::from_redis)?;
        let bad = || malformed("inspect.lua", &reply);
        let RedisValue::Array(parts) = &reply else {
            return Err(bad());
        };
        let [RedisValue::Array(levels), scheduled, due, running, dead, failed, workers, exists] =
            parts.as_slice()
        else {
            return Err(bad());
        };
        let mut info = QueueInfo {
            queue: self.queue().to_owned(),
            levels: Vec::with_capacity(levels.len()),
            waiting: 0,
            held: 0,
            scheduled: int(scheduled).ok_or_else(bad)? as u64,
            next_due_ms: int(due).filter(|&d| d >= 0),
            running: int(running).ok_or_else(bad)? as u64,
            dead: int(dead).ok_or_else(bad)? as u64,
            failed: int(failed).ok_or_else(bad)? as u64,
            workers: int(workers).ok_or_else(bad)? as u64,
            oldest_waiting_ms: None,
            exists: int(exists).ok_or_else(bad)? > 0,
        };
        for (priority, level) in levels.iter().enumerate().rev() {
            let RedisValue::Array(fields) = level else {
                return Err(bad());
            };
            let [waiting, held, oldest] = fields.as_slice() else {
                return Err(bad());
            };
            let level = LevelInfo {
                priority: priority as u32,
                waiting: int(waiting).ok_or_else(bad)?.max(0) as u64,
                held: int(held).ok_or_else(bad)?.max(0) as u64,
                oldest_waiting_ms: entry_ms(&text(oldest)),
            };
            info.waiting += level.waiting;
            info.held += level.held;
            if let Some(ms) = level.oldest_waiting_ms {
                info.oldest_waiting_ms = Some(info.oldest_waiting_ms.map_or(ms, |o| o.min(ms)));
            }
            info.levels.push(level);
        }
        Ok(info)
    }

    /// The workers of the queue: every id in `workers` seen in the last
    /// minute (older ones are gone for good, whether or not a live worker
    /// pruned them yet), alive while its heartbeat key exists; most
    /// recently seen first. Two round trips.
    ///
    /// # Errors
    /// Connection and Redis errors. A heartbeat that is not a `Heartbeat`
    /// record is a live worker whose `heartbeat` is `None`.
    pub async fn workers(&self) -> Result<Vec<WorkerInfo>> {
        let keys = &self.inner.keys;
        let mut connection = self.connection();
        // Ids as bytes: one written as other than UTF-8 is shown lossily,
        // and its heartbeat read by its own bytes.
        let seen: Vec<(Vec<u8>, f64)> = redis::cmd("ZRANGE")
            .arg(keys.workers())
            .arg("+inf")
            .arg(format!("({}", now_ms() - WORKER_LISTED_MS))
            .arg("BYSCORE")
            .arg("REV")
            .arg("WITHSCORES")
            .query_async(&mut connection)
            .await
            .map_err(Error::from_redis)?;
        if seen.is_empty() {
            return Ok(Vec::new());
        }
        let beats: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(
                seen.iter()
                    .map(|(id, _)| [keys.worker("").as_bytes(), id].concat())
                    .collect::<Vec<_>>(),
            )
            .query_async(&mut connection)
            .await
            .map_err(Error::from_redis)?;
        Ok(seen
            .into_iter()
            .zip(beats)
            .map(|((worker_id, score), beat)| {
                // A heartbeat that does not decode still says the worker is
                // alive; its fields are unknown.
                let alive = beat.is_some();
                let heartbeat = beat.and_then(|raw| Heartbeat::decode(raw.as_slice()).ok());
                WorkerInfo {
                    alive,
                    seen_ms: heartbeat.as_ref().map_or(score as i64, |h| h.seen_ms),
                    heartbeat,
                    worker_id: String::from_utf8_lossy(&worker_id).into_owned(),
                }
            })
            .collect())
    }

    /// One page of the queue's jobs in `state`, at most `count` (1 to
    /// 1,000) from `cursor` (`None` for the first page; then the page's
    /// `next`).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a count outside 1..=1000 or a cursor no
    /// page gave; connection and Redis errors; [`Error::MalformedRecord`]
    /// for a script reply out of shape. A failed or dead entry whose record
    /// does not decode is listed with [`ListedJob::malformed`].
    pub async fn jobs(
        &self,
        state: ListState,
        count: usize,
        cursor: Option<&str>,
    ) -> Result<JobPage> {
        if !(1..=MAX_PAGE).contains(&count) {
            return Err(Error::InvalidOption(format!(
                "invalid count {count}: it must be from 1 to {MAX_PAGE}"
            )));
        }
        match state {
            ListState::Running => self.held_page(count, cursor).await,
            ListState::Scheduled => self.scheduled_page(count, cursor).await,
            ListState::Failed => {
                let keys = &self.inner.keys;
                let (entries, next) = self.stream_page(&keys.failed(), count, cursor).await?;
                let jobs = entries
                    .into_iter()
                    .map(|(entry_id, fields)| listed_failure(entry_id, &fields))
                    .collect();
                Ok(JobPage { jobs, next })
            }
            ListState::Dead => {
                let keys = &self.inner.keys;
                let (entries, next) = self.stream_page(&keys.dead(), count, cursor).await?;
                let jobs = entries
                    .into_iter()
                    .map(|(entry_id, fields)| listed_dead(entry_id, &fields))
                    .collect();
                Ok(JobPage { jobs, next })
            }
        }
    }

    /// Up to `count` entries of `stream` after `cursor`, oldest first, and
    /// the cursor of the next page.
    pub(crate) async fn stream_page(
        &self,
        stream: &str,
        count: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<(String, EntryFields)>, Option<String>)> {
        if let Some(cursor) = cursor.filter(|c| !is_entry_id(c)) {
            return Err(invalid_cursor(cursor));
        }
        let start = cursor.map_or_else(|| "-".to_owned(), |c| format!("({c}"));
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(stream)
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.connection())
            .await
            .map_err(Error::from_redis)?;
        let next = (reply.ids.len() == count)
            .then(|| reply.ids.last().map(|e| e.id.clone()))
            .flatten();
        Ok((reply.ids.into_iter().map(|e| (e.id, e.map)).collect(), next))
    }

    async fn held_page(&self, count: usize, cursor: Option<&str>) -> Result<JobPage> {
        let keys = &self.inner.keys;
        let (level, after) = match cursor {
            None => (PRIORITY_LEVELS - 1, String::new()),
            Some(cursor) => {
                let (level, after) = cursor.split_once(':').unwrap_or((cursor, ""));
                let level = level
                    .parse::<u32>()
                    .ok()
                    .filter(|&l| l < PRIORITY_LEVELS)
                    .ok_or_else(|| invalid_cursor(cursor))?;
                if !after.is_empty() && !is_entry_id(after) {
                    return Err(invalid_cursor(cursor));
                }
                (level, after.to_owned())
            }
        };
        let mut call = HELD.key(keys.streams_low_to_high());
        call.key(keys.running())
            .arg(GROUP)
            .arg(level)
            .arg(after)
            .arg(count);
        let reply: RedisValue = call
            .invoke_async(&mut self.connection())
            .await
            .map_err(Error::from_redis)?;
        let bad = || malformed("held.lua", &reply);
        let RedisValue::Array(parts) = &reply else {
            return Err(bad());
        };
        let [next, RedisValue::Array(entries)] = parts.as_slice() else {
            return Err(bad());
        };
        let mut jobs = Vec::with_capacity(entries.len());
        for entry in entries {
            let RedisValue::Array(f) = entry else {
                return Err(bad());
            };
            let [level, entry_id, consumer, idle, deliveries, job_id, task, job, owner] =
                f.as_slice()
            else {
                return Err(bad());
            };
            let raw = bytes(job);
            let owner = text(owner);
            jobs.push(ListedJob {
                job_id: text(job_id),
                task: text(task),
                job: (!raw.is_empty())
                    .then(|| JobRecord::decode(raw.as_slice()).ok())
                    .flatten(),
                entry_id: text(entry_id),
                worker_id: if owner.is_empty() {
                    text(consumer)
                } else {
                    owner.clone()
                },
                priority: int(level).ok_or_else(bad)? as u32,
                idle_ms: int(idle).unwrap_or(0).max(0) as u64,
                deliveries: int(deliveries).unwrap_or(0).max(0) as u64,
                in_running: !owner.is_empty(),
                ..ListedJob::default()
            });
        }
        let next = text(next);
        Ok(JobPage {
            jobs,
            next: (!next.is_empty()).then_some(next),
        })
    }

    async fn scheduled_page(&self, count: usize, cursor: Option<&str>) -> Result<JobPage> {
        let keys = &self.inner.keys;
        let (due, after) = match cursor {
            None => ("", ""),
            Some(c) => c
                .split_once(':')
                .filter(|(due, _)| is_score(due))
                .ok_or_else(|| Error::InvalidOption(format!("invalid cursor {c:?}")))?,
        };
        let mut call = SCHEDULED.key(keys.delayed());
        call.key(keys.delayed_jobs()).arg(due).arg(after).arg(count);
        let reply: RedisValue = call
            .invoke_async(&mut self.connection())
            .await
            .map_err(Error::from_redis)?;
        let bad = || malformed("scheduled.lua", &reply);
        let RedisValue::Array(parts) = &reply else {
            return Err(bad());
        };
        let [next, RedisValue::Array(found)] = parts.as_slice() else {
            return Err(bad());
        };
        let mut jobs = Vec::with_capacity(found.len());
        for item in found {
            let RedisValue::Array(f) = item else {
                return Err(bad());
            };
            let [job_id, due, raw] = f.as_slice() else {
                return Err(bad());
            };
            let raw = bytes(raw);
            let job = (!raw.is_empty())
                .then(|| JobRecord::decode(raw.as_slice()).ok())
                .flatten();
            jobs.push(ListedJob {
                task: job.as_ref().map(|j| j.task.clone()).unwrap_or_default(),
                priority: job.as_ref().map_or(0, |j| j.priority),
                job,
                job_id: text(job_id),
                at_ms: int(due).ok_or_else(bad)?,
                ..ListedJob::default()
            });
        }
        let next = text(next);
        Ok(JobPage {
            jobs,
            next: (!next.is_empty()).then_some(next),
        })
    }

    /// Everything known about the job `id`: its state and status record,
    /// and for a scheduled job its record and due time, for a running one
    /// its worker.
    ///
    /// # Errors
    /// Connection and Redis errors; [`Error::MalformedRecord`].
    pub async fn job_details(&self, id: &str) -> Result<JobDetails> {
        let (status, raw) = self.read_status(id).await?;
        let record = raw
            .map(|raw| {
                Status::decode(raw.as_slice())
                    .map_err(|e| Error::MalformedRecord(format!("status of {id}: {e}")))
            })
            .transpose()?;
        let keys = &self.inner.keys;
        let mut details = JobDetails {
            status,
            record,
            job: None,
            due_ms: None,
            worker_id: None,
        };
        let mut connection = self.connection();
        match status {
            JobStatus::Scheduled => {
                let (job, due): (Option<Vec<u8>>, Option<f64>) = redis::pipe()
                    .cmd("HGET")
                    .arg(keys.delayed_jobs())
                    .arg(id)
                    .cmd("ZSCORE")
                    .arg(keys.delayed())
                    .arg(id)
                    .query_async(&mut connection)
                    .await
                    .map_err(Error::from_redis)?;
                details.job = job.and_then(|raw| JobRecord::decode(raw.as_slice()).ok());
                details.due_ms = due.map(|d| d as i64);
            }
            JobStatus::Running => {
                details.worker_id = redis::cmd("HGET")
                    .arg(keys.running())
                    .arg(id)
                    .query_async(&mut connection)
                    .await
                    .map_err(Error::from_redis)?;
            }
            _ => {}
        }
        Ok(details)
    }

    /// The names of the queues this Redis holds any key of, sorted; on a
    /// cluster, every master's. This one call scans the whole key space
    /// (`SCAN MATCH ardiq:{*}:*`, 1,000 keys a step): queues have no
    /// registry, so nothing cheaper can find them. Keep it off hot paths.
    ///
    /// # Errors
    /// Connection and Redis errors.
    pub async fn queues(&self) -> Result<Vec<String>> {
        let mut found = std::collections::BTreeSet::new();
        let keys = self
            .inner
            .connection
            .scan_keys("ardiq:{*}:*")
            .await
            .map_err(Error::from_redis)?;
        // A stray key whose tag is no queue name (white space, empty,
        // not UTF-8) is no queue of ours: skipped, not an error.
        for key in keys {
            let Some(rest) = key.strip_prefix(b"ardiq:{".as_slice()) else {
                continue;
            };
            let Some(end) = rest.windows(2).position(|pair| pair == b"}:") else {
                continue;
            };
            if let Ok(queue) = std::str::from_utf8(&rest[..end]) {
                if ardiq_spec::limits::check_queue_name(queue).is_ok() {
                    found.insert(queue.to_owned());
                }
            }
        }
        Ok(found.into_iter().collect())
    }
}

/// A store entry whose record does not decode: what its fields say.
fn listed_malformed(entry_id: String, fields: &EntryFields, err: &Error) -> ListedJob {
    let field = |name: &str| fields.get(name).map(text).unwrap_or_default();
    ListedJob {
        job_id: field("id"),
        task: field("task"),
        reason: field("reason"),
        malformed: Some(err.to_string()),
        entry_id,
        ..ListedJob::default()
    }
}

fn listed_failure(entry_id: String, fields: &EntryFields) -> ListedJob {
    let record = match decode_failure(&entry_id, fields) {
        Ok(record) => record,
        Err(err) => return listed_malformed(entry_id, fields, &err),
    };
    let job = JobRecord::decode(record.job.as_slice()).ok();
    ListedJob {
        priority: job.as_ref().map_or(0, |j| j.priority),
        job,
        job_id: record.job_id,
        task: record.task,
        entry_id,
        worker_id: record.worker_id,
        at_ms: record.failed_ms,
        error: record.error,
        attempts: record.attempts,
        ..ListedJob::default()
    }
}

fn listed_dead(entry_id: String, fields: &EntryFields) -> ListedJob {
    let record = match crate::dead::decode(&entry_id, fields) {
        Ok(record) => record,
        Err(err) => return listed_malformed(entry_id, fields, &err),
    };
    let job = JobRecord::decode(record.job.as_slice()).ok();
    ListedJob {
        priority: job.as_ref().map_or(0, |j| j.priority),
        job,
        job_id: record.job_id,
        task: record.task,
        entry_id,
        worker_id: record.worker_id,
        at_ms: record.dead_ms,
        error: record.error,
        reason: record.reason,
        ..ListedJob::default()
    }
}

/// The `Failure` record of a kept-failures entry.
pub(crate) fn decode_failure(entry_id: &str, fields: &EntryFields) -> Result<FailureRecord> {
    let raw = fields.get("record").map(bytes).unwrap_or_default();
    FailureRecord::decode(raw.as_slice())
        .map_err(|e| Error::MalformedRecord(format!("kept failure {entry_id}: {e}")))
}

/// How long ago `at_ms` was, ms.
pub fn age_ms(at_ms: i64) -> i64 {
    (now_ms() - at_ms).max(0)
}

#[cfg(test)]
mod tests {
    use super::is_entry_id;

    #[test]
    fn an_entry_id_is_two_unsigned_64_bit_parts() {
        for id in [
            "0-0",
            "1700000000000-3",
            "18446744073709551615-18446744073709551615",
        ] {
            assert!(is_entry_id(id), "{id}");
        }
        for id in [
            "",
            "abc",
            "5",
            "1-x",
            "-1",
            "1-",
            "+1-0",
            "1-+0",
            " 1-0",
            "18446744073709551616-0",
            "99999999999999999999-0",
        ] {
            assert!(!is_entry_id(id), "{id}");
        }
    }
}
