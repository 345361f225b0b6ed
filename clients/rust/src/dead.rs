//! The dead-letter store of a queue (SPEC.md section 9): listing, replaying
//! (`replay.lua`, attempts reset) and deleting dead letters.

use std::sync::LazyLock;

use ardiq_spec::{scripts, DeadLetter as DeadLetterRecord, Job as JobRecord, PRIORITY_LEVELS};
use prost::Message as _;
use redis::streams::StreamRangeReply;
use redis::{Script, Value as RedisValue};

use crate::client::Client;
use crate::inspect::EntryFields;
use crate::job::Job;
use crate::{Error, Result};

static REPLAY: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::REPLAY));

/// One dead letter: a job that must not run (again), and why.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// Its entry id in the dead-letter stream.
    pub entry_id: String,
    /// The record as the worker wrote it: job id, task, reason code,
    /// detail, the raw job, when, which worker, and the last error.
    pub record: DeadLetterRecord,
}

fn text(value: &RedisValue) -> Option<&[u8]> {
    match value {
        RedisValue::BulkString(bytes) => Some(bytes),
        RedisValue::SimpleString(text) => Some(text.as_bytes()),
        _ => None,
    }
}

/// The `DeadLetter` record of a dead-letter entry.
pub(crate) fn decode(entry_id: &str, fields: &EntryFields) -> Result<DeadLetterRecord> {
    let raw = fields.get("record").and_then(text).unwrap_or_default();
    DeadLetterRecord::decode(raw)
        .map_err(|e| Error::MalformedRecord(format!("dead letter {entry_id}: {e}")))
}

impl Client {
    /// The oldest `count` dead letters of the queue.
    ///
    /// # Errors
    /// Connection and Redis errors; [`Error::MalformedRecord`] for a dead
    /// letter that is not a `DeadLetter` record.
    pub async fn dead_letters(&self, count: usize) -> Result<Vec<DeadLetter>> {
        let (entries, _) = self
            .stream_page(&self.inner.keys.dead(), count.max(1), None)
            .await?;
        entries
            .into_iter()
            .map(|(entry_id, fields)| {
                let record = decode(&entry_id, &fields)?;
                Ok(DeadLetter { entry_id, record })
            })
            .collect()
    }

    /// Queues a dead letter's job again with its attempts reset; a handle
    /// on it, or `None` when the dead letter is gone.
    ///
    /// # Errors
    /// [`Error::MalformedRecord`] for a dead letter that holds no replayable
    /// job (an entry that was malformed itself), and connection and Redis
    /// errors.
    pub async fn replay_dead_letter(&self, entry_id: &str) -> Result<Option<Job>> {
        let stream = self.inner.keys.dead();
        let Some(fields) = self.read_entry(&stream, entry_id).await? else {
            return Ok(None);
        };
        let dead = decode(entry_id, &fields)?;
        self.replay_entry(&stream, entry_id, "dead letter", &dead.job)
            .await
    }

    /// The fields of entry `entry_id` of `stream`, `None` when it is gone.
    pub(crate) async fn read_entry(
        &self,
        stream: &str,
        entry_id: &str,
    ) -> Result<Option<EntryFields>> {
        let entries: StreamRangeReply = redis::cmd("XRANGE")
            .arg(stream)
            .arg(entry_id)
            .arg(entry_id)
            .query_async(&mut self.connection())
            .await
            .map_err(Error::from_redis)?;
        Ok(entries.ids.into_iter().next().map(|entry| entry.map))
    }

    /// Deletes entries of `stream` by id; how many were removed.
    pub(crate) async fn delete_entries(&self, stream: &str, entry_ids: &[String]) -> Result<u64> {
        if entry_ids.is_empty() {
            return Ok(0);
        }
        redis::cmd("XDEL")
            .arg(stream)
            .arg(entry_ids)
            .query_async(&mut self.connection())
            .await
            .map_err(Error::from_redis)
    }

    /// Queues the job held by entry `entry_id` of `stream` (the dead-letter
    /// or the kept-failures stream) again with `replay.lua`, its attempts
    /// reset; `None` when the entry went meanwhile.
    pub(crate) async fn replay_entry(
        &self,
        stream: &str,
        entry_id: &str,
        what: &str,
        raw_job: &[u8],
    ) -> Result<Option<Job>> {
        let keys = &self.inner.keys;
        let unreplayable = |why: String| {
            Error::MalformedRecord(format!("{what} {entry_id} holds no replayable job: {why}"))
        };
        let mut job = JobRecord::decode(raw_job).map_err(|e| unreplayable(e.to_string()))?;
        if job.id.is_empty() || job.task.is_empty() {
            return Err(unreplayable("no id or task".into()));
        }
        job.attempt = 0;
        job.due_ms = 0;
        let priority = job.priority.min(PRIORITY_LEVELS - 1);
        let reply: RedisValue = REPLAY
            .key(stream)
            .key(keys.job(&job.id))
            .key(keys.stream(priority))
            .arg(entry_id)
            .arg(&job.id)
            .arg(&job.task)
            .arg(job.encode_to_vec())
            .invoke_async(&mut self.connection())
            .await
            .map_err(Error::from_redis)?;
        Ok(text(&reply).map(|_| Job::new(self.clone(), job.id, None, job.result_ttl_ms)))
    }

    /// Deletes dead letters by entry id; how many were removed.
    ///
    /// # Errors
    /// Connection and Redis errors.
    pub async fn delete_dead_letters(&self, entry_ids: &[String]) -> Result<u64> {
        self.delete_entries(&self.inner.keys.dead(), entry_ids)
            .await
    }
}
