//! Sending checked jobs to Redis: `enqueue.lua` calls of up to
//! [`PIPELINE_CHUNK`] jobs, pipelined on the one connection. Each chunk's
//! records are encoded just before it is queued, so Redis works on the first
//! chunk while the rest are still being built. Every Rust producer (this
//! client and the `ardiq` package's core) enqueues through here.

use std::sync::atomic::Ordering;
use std::task::Poll;

use ardiq_spec::enqueue::{for_each_enqueue_arg, PreparedJob};
use ardiq_spec::limits::MAX_BATCH;
use ardiq_spec::Job;
use futures::stream::{FuturesOrdered, StreamExt};
use redis::aio::ConnectionLike as _;
use redis::{Cmd, Value as RedisValue};

use crate::client::{Client, ENQUEUE};
use crate::job::EnqueueOutcome;
use crate::{Error, Result};

/// Jobs per `EVALSHA`: small enough that Redis starts on the first call
/// while the rest are still on the wire and replies come back while Redis
/// runs the later calls; large enough that a call's fixed cost in Redis
/// (about 15 µs) stays under 0.1 µs a job.
pub const PIPELINE_CHUNK: usize = 200;
const _: () = assert!(PIPELINE_CHUNK <= MAX_BATCH);

impl Client {
    /// Enqueues jobs the producer core has checked (`JobRequest::check`),
    /// in order; one outcome each. The script is loaded once per client. A
    /// chunk that meets an empty script cache (`SCRIPT FLUSH`, a restart)
    /// ran nothing and is sent again after loading the script, so nothing
    /// is written twice.
    ///
    /// # Errors
    /// Connection and Redis errors; [`Error::MalformedRecord`] for a reply
    /// that does not follow the script's header.
    #[doc(hidden)]
    pub async fn enqueue_jobs(&self, jobs: Vec<Job>) -> Result<Vec<EnqueueOutcome>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut connection = self.connection();
        if !self.inner.enqueue_loaded.load(Ordering::Relaxed) {
            ENQUEUE
                .load_async(&mut connection)
                .await
                .map_err(Error::from_redis)?;
            self.inner.enqueue_loaded.store(true, Ordering::Relaxed);
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
            let mut chunk_connection = connection.clone();
            in_flight.push_back(async move {
                let reply = chunk_connection
                    .req_packed_command(&cmd)
                    .await
                    .and_then(RedisValue::extract_error);
                (chunk, cmd, reply)
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
        for (chunk, cmd, reply) in replies {
            let reply = match reply {
                Ok(reply) => reply,
                Err(err) if err.kind() == redis::ErrorKind::NoScriptError => {
                    ENQUEUE
                        .load_async(&mut connection)
                        .await
                        .map_err(Error::from_redis)?;
                    connection
                        .req_packed_command(&cmd)
                        .await
                        .and_then(RedisValue::extract_error)
                        .map_err(Error::from_redis)?
                }
                Err(err) => return Err(Error::from_redis(err)),
            };
            let RedisValue::Array(items) = reply else {
                return Err(Error::MalformedRecord(format!(
                    "enqueue.lua replied {reply:?}, not an array"
                )));
            };
            if items.len() != chunk.len() {
                return Err(Error::MalformedRecord(format!(
                    "enqueue.lua replied {} outcomes for {} jobs",
                    items.len(),
                    chunk.len()
                )));
            }
            for item in &items {
                outcomes.push(enqueue_outcome(item)?);
            }
        }
        Ok(outcomes)
    }

    /// The `EVALSHA` of `enqueue.lua` for one chunk, sized up front.
    fn enqueue_cmd(&self, jobs: &[PreparedJob]) -> Cmd {
        let keys = &self.inner.keys;
        let queue = keys.queue().len();
        let size: usize = jobs
            .iter()
            .map(|j| j.record.len() + 2 * j.id.len() + j.task.len() + 2 * queue + 48)
            .sum();
        let mut cmd = Cmd::with_capacity(3 + 6 * jobs.len(), size + 128);
        cmd.arg("EVALSHA")
            .arg(ENQUEUE.get_hash())
            .arg(2 + 2 * jobs.len());
        for_each_enqueue_arg(keys, jobs, |part| {
            cmd.arg(part);
        });
        cmd
    }
}

/// One element of the `enqueue.lua` reply.
fn enqueue_outcome(reply: &RedisValue) -> Result<EnqueueOutcome> {
    match reply {
        RedisValue::Int(0) => Ok(EnqueueOutcome::Duplicate),
        RedisValue::BulkString(text) if text == b"scheduled" => Ok(EnqueueOutcome::Scheduled),
        RedisValue::SimpleString(text) if text == "scheduled" => Ok(EnqueueOutcome::Scheduled),
        // Anything else the script returns for a job is its stream entry id.
        RedisValue::BulkString(_) | RedisValue::SimpleString(_) => Ok(EnqueueOutcome::Queued),
        other => Err(Error::MalformedRecord(format!(
            "enqueue.lua replied {other:?} for a job"
        ))),
    }
}
