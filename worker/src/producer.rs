//! Producer operations through the core: enqueueing in batches (every job
//! is built by the producer core of `ardiq_spec::enqueue`), reading status
//! and results, aborting, and the dead-letter operations.

use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use ardiq_spec::enqueue::{enqueue_call, for_each_enqueue_arg, PreparedJob};
use ardiq_spec::limits::MAX_BATCH;
use ardiq_spec::{scripts, DeadLetter, Job, QueueKeys, State, Status};
use futures::stream::{FuturesOrdered, StreamExt};
use prost::Message;
use redis::aio::ConnectionLike;
use redis::{Script, Value as RedisValue};

use crate::bridge::{DeadLetterInfo, EnqueueOutcome, StatusInfo};
use crate::conn::Conn;
use crate::error::CoreError;

/// Jobs per `EVALSHA` when a batch is sent: small enough that Redis starts
/// on the first call while the rest are still on the wire and the client
/// reads early replies while Redis runs the later calls; large enough that
/// a call's fixed cost in Redis (about 15 µs) stays under 0.1 µs a job.
const PIPELINE_CHUNK: usize = 200;
const _: () = assert!(PIPELINE_CHUNK <= MAX_BATCH);

fn outcome_of(value: &RedisValue) -> EnqueueOutcome {
    match value {
        RedisValue::Int(0) => EnqueueOutcome::Duplicate,
        other if bytes_of(other) == Some(b"scheduled".as_slice()) => EnqueueOutcome::Scheduled,
        _ => EnqueueOutcome::Queued,
    }
}

/// The scripts producers run, hashed once.
#[derive(Debug)]
pub struct ProducerScripts {
    enqueue: Script,
    status: Script,
    abort: Script,
    replay: Script,
}

impl Default for ProducerScripts {
    fn default() -> Self {
        Self {
            enqueue: Script::new(scripts::ENQUEUE),
            status: Script::new(scripts::STATUS),
            abort: Script::new(scripts::ABORT),
            replay: Script::new(scripts::REPLAY),
        }
    }
}

/// Producer operations on one queue.
#[derive(Debug)]
pub struct Producer {
    /// Key names.
    pub keys: QueueKeys,
    scripts: ProducerScripts,
    /// Whether `enqueue.lua` is known to be in the server's script cache.
    enqueue_loaded: AtomicBool,
}

fn bytes_of(value: &RedisValue) -> Option<&[u8]> {
    match value {
        RedisValue::BulkString(b) => Some(b),
        RedisValue::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn error_triple(error: Option<&ardiq_spec::Error>) -> Option<(String, String, String)> {
    error.map(|e| (e.r#type.clone(), e.message.clone(), e.traceback.clone()))
}

impl Producer {
    /// Operations on `queue`.
    pub fn new(queue: &str) -> Self {
        Self {
            keys: QueueKeys::new(queue),
            scripts: ProducerScripts::default(),
            enqueue_loaded: AtomicBool::new(false),
        }
    }

    /// The `EVALSHA` of `enqueue.lua` for one chunk of a batch.
    fn enqueue_cmd(&self, jobs: &[PreparedJob]) -> redis::Cmd {
        let queue = self.keys.queue().len();
        let size: usize = jobs
            .iter()
            .map(|j| j.record.len() + 2 * j.id.len() + j.task.len() + 2 * queue + 48)
            .sum();
        let mut cmd = redis::Cmd::with_capacity(3 + 6 * jobs.len(), size + 128);
        cmd.arg("EVALSHA")
            .arg(self.scripts.enqueue.get_hash())
            .arg(2 + 2 * jobs.len());
        for_each_enqueue_arg(&self.keys, jobs, |part| {
            cmd.arg(part);
        });
        cmd
    }

    /// Enqueues checked jobs. The script is loaded once; then every chunk
    /// of `PIPELINE_CHUNK` jobs is encoded and handed to the connection as
    /// one `EVALSHA` before the next chunk is encoded, so Redis works on the
    /// first chunk while the rest are still being built. A chunk that meets
    /// an empty script cache (`SCRIPT FLUSH`, a restart) ran nothing and is
    /// sent again after loading the script; nothing is written twice.
    pub async fn enqueue(
        &self,
        conn: &mut Conn,
        jobs: Vec<Job>,
    ) -> Result<Vec<EnqueueOutcome>, CoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        if !self.enqueue_loaded.load(Ordering::Relaxed) {
            self.scripts.enqueue.load_async(conn).await?;
            self.enqueue_loaded.store(true, Ordering::Relaxed);
        }
        let total = jobs.len();
        let mut rest = jobs.into_iter();
        let mut in_flight = FuturesOrdered::new();
        let mut replies = Vec::new();
        loop {
            let chunk: Vec<PreparedJob> = rest
                .by_ref()
                .take(PIPELINE_CHUNK)
                .map(PreparedJob::from)
                .collect();
            if chunk.is_empty() {
                break;
            }
            let cmd = self.enqueue_cmd(&chunk);
            let mut chunk_conn = conn.clone();
            in_flight.push_back(async move {
                let reply = chunk_conn
                    .req_packed_command(&cmd)
                    .await
                    .and_then(RedisValue::extract_error);
                (chunk, reply)
            });
            // Polling once queues the call on the connection (calls queue in
            // the order they are first polled); yielding lets the connection
            // write it while this task encodes the next chunk.
            if let Poll::Ready(Some(done)) = futures::poll!(in_flight.next()) {
                replies.push(done);
            }
            if rest.len() > 0 {
                tokio::task::yield_now().await;
            }
        }
        while let Some(done) = in_flight.next().await {
            replies.push(done);
        }
        let mut outcomes = Vec::with_capacity(total);
        for (chunk, reply) in replies {
            let reply = match reply {
                Ok(reply) => reply,
                Err(err) if err.kind() == redis::ErrorKind::NoScriptError => {
                    self.enqueue_cmd_retry(conn, &chunk).await?
                }
                Err(err) => return Err(err.into()),
            };
            let RedisValue::Array(items) = reply else {
                return Err(CoreError::Malformed(format!(
                    "enqueue.lua replied {reply:?}, not an array"
                )));
            };
            if items.len() != chunk.len() {
                return Err(CoreError::Malformed(format!(
                    "enqueue.lua replied {} outcomes for {} jobs",
                    items.len(),
                    chunk.len()
                )));
            }
            outcomes.extend(items.iter().map(outcome_of));
        }
        Ok(outcomes)
    }

    /// Sends one chunk through `Script`, which loads the script when Redis
    /// lacks it.
    async fn enqueue_cmd_retry(
        &self,
        conn: &mut Conn,
        chunk: &[PreparedJob],
    ) -> Result<RedisValue, CoreError> {
        let (keys, argv) = enqueue_call(&self.keys, chunk);
        let mut invocation = self.scripts.enqueue.prepare_invoke();
        for key in &keys {
            invocation.key(key);
        }
        for arg in &argv {
            invocation.arg(arg.as_slice());
        }
        Ok(invocation.invoke_async(conn).await?)
    }

    /// A job's state and result.
    pub async fn status(&self, conn: &mut Conn, job_id: &str) -> Result<StatusInfo, CoreError> {
        let reply: Vec<RedisValue> = self
            .scripts
            .status
            .key(self.keys.job(job_id))
            .key(self.keys.running())
            .key(self.keys.delayed())
            .arg(job_id)
            .invoke_async(conn)
            .await?;
        let state = reply
            .first()
            .and_then(bytes_of)
            .map_or_else(String::new, |b| String::from_utf8_lossy(b).into_owned());
        let mut info = StatusInfo {
            state,
            ..StatusInfo::default()
        };
        if let Some(record) = reply.get(1).and_then(bytes_of) {
            let status = Status::decode(record)
                .map_err(|e| CoreError::Malformed(format!("status of {job_id}: {e}")))?;
            if State::try_from(status.state).is_ok_and(State::is_terminal) {
                if !status.value.is_empty() {
                    info.value = Some(ardiq_spec::value::decode(&status.value)?);
                }
                info.error = error_triple(status.error.as_ref());
                info.attempts = status.attempts;
                info.times = (status.enqueued_ms, status.started_ms, status.finished_ms);
                info.worker_id = status.worker_id;
            }
        }
        Ok(info)
    }

    /// Aborts a job; the reply is `abort.lua`'s.
    pub async fn abort(
        &self,
        conn: &mut Conn,
        job_id: &str,
        now_ms: i64,
    ) -> Result<String, CoreError> {
        let record = Status::aborted_before_run(now_ms).encode_to_vec();
        let reply: String = self
            .scripts
            .abort
            .key(self.keys.job(job_id))
            .key(self.keys.delayed())
            .key(self.keys.delayed_jobs())
            .key(self.keys.abort())
            .arg(job_id)
            .arg(ardiq_spec::DEFAULT_RESULT_TTL_MS)
            .arg(record)
            .arg(self.keys.events())
            .invoke_async(conn)
            .await?;
        Ok(reply)
    }

    /// Dead letters, oldest first.
    pub async fn dead_letters(
        &self,
        conn: &mut Conn,
        count: usize,
    ) -> Result<Vec<DeadLetterInfo>, CoreError> {
        let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.keys.dead())
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .query_async(conn)
            .await?;
        let mut letters = Vec::with_capacity(entries.ids.len());
        for entry in entries.ids {
            let record = entry
                .map
                .get("record")
                .and_then(bytes_of)
                .unwrap_or_default();
            let dead = DeadLetter::decode(record)
                .map_err(|e| CoreError::Malformed(format!("dead letter {}: {e}", entry.id)))?;
            letters.push(DeadLetterInfo {
                entry_id: entry.id,
                job_id: dead.job_id,
                task: dead.task,
                reason: dead.reason,
                detail: dead.detail,
                dead_ms: dead.dead_ms,
                error: error_triple(dead.error.as_ref()),
            });
        }
        Ok(letters)
    }

    /// Queues a dead letter again with its attempts reset.
    pub async fn replay(
        &self,
        conn: &mut Conn,
        entry_id: &str,
    ) -> Result<Option<String>, CoreError> {
        let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.keys.dead())
            .arg(entry_id)
            .arg(entry_id)
            .query_async(conn)
            .await?;
        let Some(entry) = entries.ids.first() else {
            return Ok(None);
        };
        let record = entry
            .map
            .get("record")
            .and_then(bytes_of)
            .unwrap_or_default();
        let dead = DeadLetter::decode(record)
            .map_err(|e| CoreError::Malformed(format!("dead letter {entry_id}: {e}")))?;
        let mut job = Job::decode(dead.job.as_slice()).map_err(|e| {
            CoreError::Malformed(format!(
                "dead letter {entry_id} holds no replayable job: {e}"
            ))
        })?;
        if job.id.is_empty() || job.task.is_empty() {
            return Err(CoreError::Malformed(format!(
                "dead letter {entry_id} holds no replayable job: no id or task"
            )));
        }
        job.attempt = 0;
        job.due_ms = 0;
        let priority = job.priority.min(ardiq_spec::PRIORITY_LEVELS - 1);
        let reply: RedisValue = self
            .scripts
            .replay
            .key(self.keys.dead())
            .key(self.keys.job(&job.id))
            .key(self.keys.stream(priority))
            .arg(entry_id)
            .arg(&job.id)
            .arg(&job.task)
            .arg(job.encode_to_vec())
            .invoke_async(conn)
            .await?;
        Ok(bytes_of(&reply).map(|b| String::from_utf8_lossy(b).into_owned()))
    }

    /// Deletes dead letters by entry id.
    pub async fn delete_dead(
        &self,
        conn: &mut Conn,
        entry_ids: &[String],
    ) -> Result<u64, CoreError> {
        if entry_ids.is_empty() {
            return Ok(0);
        }
        let removed: u64 = redis::cmd("XDEL")
            .arg(self.keys.dead())
            .arg(entry_ids)
            .query_async(conn)
            .await?;
        Ok(removed)
    }
}
