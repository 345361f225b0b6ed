//! A handle on one enqueued job: its id, how the enqueue went, and the
//! reads and writes that concern it afterwards (status, result, abort).

use std::fmt::{self, Display};
use std::time::Duration;

use std::sync::Arc;

use ardiq_spec::{Progress, State, Status, Value};
use prost::Message as _;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::client::Client;
use crate::enqueue::now_ms;
use crate::value::from_value;
use crate::{Error, Result};

/// First and longest pause between status reads while waiting for a result
/// without a subscription (one the server refused, say).
const FIRST_POLL: Duration = Duration::from_millis(5);
const LONGEST_POLL: Duration = Duration::from_millis(100);
/// Status reads while subscribed, whatever the messages say: what a lost
/// `done:` message costs at most (SPEC.md section 15).
pub const FALLBACK_POLL: Duration = Duration::from_secs(1);
/// Longest wait one `wait.lua` registers; a longer wait registers again.
const LONGEST_REGISTRATION: Duration = Duration::from_secs(60);

/// What `enqueue.lua` did with a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnqueueOutcome {
    /// Added to its priority stream.
    Queued,
    /// Stored until its due time.
    Scheduled,
    /// A job with this id was already known; nothing was written.
    Duplicate,
}

impl EnqueueOutcome {
    /// `queued`, `scheduled` or `duplicate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Scheduled => "scheduled",
            Self::Duplicate => "duplicate",
        }
    }
}

impl Display for EnqueueOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a job, as `status.lua` derives it (SPEC.md section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// No status key: never enqueued, or its result expired or was not kept.
    NotFound,
    /// Waiting in a stream.
    Queued,
    /// Waiting for its due time.
    Scheduled,
    /// Held by a worker.
    Running,
    /// Returned a value.
    Complete,
    /// Raised, with no retry left.
    Failed,
    /// Aborted.
    Aborted,
    /// Dead-lettered.
    Dead,
    /// Not started before its expiry.
    Expired,
}

impl JobStatus {
    /// Every state of the wire spec, as `status.lua` names them.
    const STATES: [(State, Self); 8] = [
        (State::Queued, Self::Queued),
        (State::Scheduled, Self::Scheduled),
        (State::Running, Self::Running),
        (State::Complete, Self::Complete),
        (State::Failed, Self::Failed),
        (State::Aborted, Self::Aborted),
        (State::Dead, Self::Dead),
        (State::Expired, Self::Expired),
    ];

    /// The spec's state (`None` for [`JobStatus::NotFound`], which has none).
    fn state(self) -> Option<State> {
        Self::STATES
            .iter()
            .find(|(_, status)| *status == self)
            .map(|(state, _)| *state)
    }

    /// The name `status.lua` uses: `not_found`, `queued`, ...
    pub fn as_str(self) -> &'static str {
        self.state().map_or("not_found", State::name)
    }

    /// Whether the job has finished for good.
    pub fn is_terminal(self) -> bool {
        self.state().is_some_and(State::is_terminal)
    }

    pub(crate) fn parse(name: &str) -> Result<Self> {
        if name == "not_found" {
            return Ok(Self::NotFound);
        }
        Self::STATES
            .iter()
            .find(|(state, _)| state.name() == name)
            .map(|(_, status)| *status)
            .ok_or_else(|| Error::MalformedRecord(format!("unknown job state {name:?}")))
    }
}

impl Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an abort did (the reply of `abort.lua`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AbortOutcome {
    /// No such job.
    NotFound,
    /// The job was aborted: at once if it was scheduled, or earlier.
    Aborted,
    /// The job is queued or running; the worker that holds or fetches it
    /// will abort it.
    Requested,
    /// The job had already completed; nothing changed.
    Complete,
    /// The job had already failed; nothing changed.
    Failed,
    /// The job had already been dead-lettered; nothing changed.
    Dead,
    /// The job had already expired; nothing changed.
    Expired,
}

impl AbortOutcome {
    /// The `abort.lua` reply: `not_found`, `aborted`, `abort_requested`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Aborted => "aborted",
            Self::Requested => "abort_requested",
            Self::Complete => "complete",
            Self::Failed => "failed",
            Self::Dead => "dead",
            Self::Expired => "expired",
        }
    }

    pub(crate) fn parse(reply: &str) -> Result<Self> {
        Ok(match reply {
            "not_found" => Self::NotFound,
            "aborted" => Self::Aborted,
            "abort_requested" => Self::Requested,
            "complete" => Self::Complete,
            "failed" => Self::Failed,
            "dead" => Self::Dead,
            "expired" => Self::Expired,
            other => {
                return Err(Error::MalformedRecord(format!(
                    "unknown abort reply {other:?}"
                )))
            }
        })
    }
}

impl Display for AbortOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job's state and, when it has one, its status record.
#[derive(Debug, Clone, PartialEq)]
pub struct JobInfo {
    /// Where the job is.
    pub status: JobStatus,
    /// The status record: for a terminal job the value or error, attempts,
    /// times and the worker that finished it.
    pub record: Option<Status>,
}

/// A job on a queue. Cheap to clone; it shares the client's connection.
#[derive(Debug, Clone)]
pub struct Job {
    client: Client,
    id: String,
    outcome: Option<EnqueueOutcome>,
    result_ttl_ms: Option<u64>,
}

impl Job {
    pub(crate) fn new(
        client: Client,
        id: String,
        outcome: Option<EnqueueOutcome>,
        result_ttl_ms: Option<u64>,
    ) -> Self {
        Self {
            client,
            id,
            outcome,
            result_ttl_ms,
        }
    }

    /// The job id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What the enqueue did, or `None` for a handle made with
    /// [`Client::job`].
    pub fn outcome(&self) -> Option<EnqueueOutcome> {
        self.outcome
    }

    /// Whether a job with this id already existed, so nothing was enqueued.
    pub fn is_duplicate(&self) -> bool {
        self.outcome == Some(EnqueueOutcome::Duplicate)
    }

    /// The job's current state.
    pub async fn status(&self) -> Result<JobStatus> {
        Ok(self.client.read_status(&self.id).await?.0)
    }

    /// The job's state and its status record (read together, in one call):
    /// terminal records carry the result, the error, attempts and timings.
    pub async fn info(&self) -> Result<JobInfo> {
        let (status, record) = self.client.read_status(&self.id).await?;
        let record = record.map(|bytes| decode_status(&bytes)).transpose()?;
        Ok(JobInfo { status, record })
    }

    /// The job's status record, when it has one: terminal records carry the
    /// result, the error, attempts and timings.
    pub async fn status_record(&self) -> Result<Option<Status>> {
        self.client
            .read_status(&self.id)
            .await?
            .1
            .map(|bytes| decode_status(&bytes))
            .transpose()
    }

    /// Waits up to `timeout` for the job to finish and reads its return
    /// value as a `T`.
    ///
    /// # Errors
    /// [`Error::JobFailed`] when it raised (or was dead-lettered),
    /// [`Error::JobAborted`], [`Error::JobExpired`], [`Error::JobNotFound`]
    /// as soon as the job has no status key (its result expired or was not
    /// kept, or no job has this id), [`Error::Timeout`] when it did not
    /// finish in time, and [`Error::UnexpectedResult`] when the value does
    /// not fit `T`.
    pub async fn result<T: DeserializeOwned>(&self, timeout: Duration) -> Result<T> {
        from_value(self.result_value(timeout).await?)
    }

    /// Like [`Job::result`], returning the spec value as it was stored.
    pub async fn result_value(&self, timeout: Duration) -> Result<Value> {
        let info = self.wait(timeout).await?;
        let record = info.record.ok_or_else(|| {
            Error::MalformedRecord(format!(
                "{} job {} has no status record",
                info.status, self.id
            ))
        })?;
        outcome(info.status, &record)
    }

    /// Waits up to `timeout` for the job to end and returns its final state
    /// and record ([`Error::Timeout`] if it has not ended by then).
    /// [`Error::JobNotFound`] ends the wait at the first status read that
    /// finds no status key: a job has one from its enqueue on, so its result
    /// expired or was not kept, or no job has this id (SPEC.md section 15).
    ///
    /// The wait is woken by the worker that ends the job (SPEC.md section
    /// 15): the client subscribes to the queue's events channel and
    /// registers the wait with `wait.lua`, then reads the status when told
    /// and every [`FALLBACK_POLL`] anyway. Without a subscription (the
    /// server refused it or `wait.lua`, an ACL without the waiting
    /// commands, say) it polls, from every 5 ms up to every 100 ms.
    pub async fn wait(&self, timeout: Duration) -> Result<JobInfo> {
        // A timeout too long for the clock (`Duration::MAX`) waits for good.
        let deadline = Instant::now().checked_add(timeout);
        let left =
            |now: Instant| deadline.map_or(Duration::MAX, |at| at.saturating_duration_since(now));
        let channel = self.client.inner.keys.events();
        let woken = Arc::new(Notify::new());
        let _listening = {
            let woken = Arc::clone(&woken);
            let done = format!("done:{}", self.id);
            self.client.inner.hub.listen(&channel, move |payload| {
                if payload == done {
                    woken.notify_one();
                }
            })
        };
        let mut registered_until: Option<Instant> = None;
        let mut pause = FIRST_POLL;
        loop {
            let now = Instant::now();
            let subscribed = match self.client.inner.hub.ensure(&channel).await {
                Ok(fresh) => {
                    // Registered again after a new subscription, and before
                    // a registration shorter than the wait runs out.
                    let renew = registered_until.is_none_or(|until| {
                        deadline.is_none_or(|at| until < at)
                            && until <= now + LONGEST_REGISTRATION / 2
                    });
                    if fresh || renew {
                        let length = left(now).min(LONGEST_REGISTRATION) + Duration::from_secs(1);
                        let deadline_ms =
                            now_ms() + i64::try_from(length.as_millis()).unwrap_or(i64::MAX);
                        match self.client.run_wait(&self.id, deadline_ms).await {
                            Ok(()) => {
                                registered_until = Some(now + length);
                                true
                            }
                            // Refused (an ACL without the waiting commands):
                            // this client's waits poll from now on.
                            Err(error) if crate::pubsub::is_refusal(&error) => {
                                self.client.inner.hub.refuse();
                                false
                            }
                            Err(error) => return Err(Error::from_redis(error)),
                        }
                    } else {
                        true
                    }
                }
                Err(_) => false,
            };
            let (status, record) = self.client.read_status(&self.id).await?;
            if status == JobStatus::NotFound {
                return Err(Error::JobNotFound);
            }
            if status.is_terminal() {
                let record = record.map(|bytes| decode_status(&bytes)).transpose()?;
                return Ok(JobInfo { status, record });
            }
            let left = left(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout);
            }
            if subscribed {
                tokio::select! {
                    () = woken.notified() => {}
                    () = tokio::time::sleep(FALLBACK_POLL.min(left)) => {}
                }
            } else {
                tokio::time::sleep(pause.min(left)).await;
                pause = (pause * 2).min(LONGEST_POLL);
            }
        }
    }

    /// The last progress the job reported (SPEC.md section 16), while it
    /// runs and after it ended; `None` when it reported none.
    pub async fn progress(&self) -> Result<Option<Progress>> {
        Ok(self
            .status_record()
            .await?
            .and_then(|record| record.progress))
    }

    /// Aborts the job: a scheduled job at once; a queued or running job by a
    /// request the worker carries out; a finished job is left alone.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use std::time::Duration;
    ///
    /// use ardiq_client::{AbortOutcome, Client, Error, JobStatus};
    ///
    /// let url = std::env::var("REDIS_URL").expect("REDIS_URL must name a test Redis");
    /// let client = Client::connect_queue(&url, "doc-abort").await?;
    /// let job = client.enqueue("report").delay(Duration::from_secs(3600)).send().await?;
    /// assert_eq!(job.abort().await?, AbortOutcome::Aborted);
    /// assert_eq!(job.status().await?, JobStatus::Aborted);
    /// assert!(matches!(job.result::<i64>(Duration::from_secs(1)).await, Err(Error::JobAborted)));
    /// # Ok::<(), ardiq_client::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn abort(&self) -> Result<AbortOutcome> {
        let ttl_ms = self
            .result_ttl_ms
            .unwrap_or(ardiq_spec::DEFAULT_RESULT_TTL_MS);
        let reply = self.client.run_abort(&self.id, ttl_ms).await?;
        AbortOutcome::parse(&reply)
    }
}

fn decode_status(bytes: &[u8]) -> Result<Status> {
    Status::decode(bytes).map_err(|err| Error::MalformedRecord(format!("status record: {err}")))
}

/// The result a terminal status record stands for.
fn outcome(status: JobStatus, record: &Status) -> Result<Value> {
    let error = record.error.clone().unwrap_or_default();
    match status {
        JobStatus::Complete if record.value.is_empty() => Ok(Value::Nil),
        JobStatus::Complete => Ok(ardiq_spec::value::decode(&record.value)?),
        JobStatus::Aborted => Err(Error::JobAborted),
        JobStatus::Expired => Err(Error::JobExpired),
        JobStatus::Dead if error.r#type.is_empty() => Err(Error::JobFailed {
            remote_type: "DeadLetter".to_owned(),
            message: error.message,
            traceback: error.traceback,
        }),
        _ => Err(Error::JobFailed {
            remote_type: error.r#type,
            message: error.message,
            traceback: error.traceback,
        }),
    }
}

#[cfg(test)]
mod tests {
    use ardiq_spec::State;

    use super::*;

    #[test]
    fn names_match_the_scripts() {
        for status in [
            JobStatus::NotFound,
            JobStatus::Queued,
            JobStatus::Scheduled,
            JobStatus::Running,
            JobStatus::Complete,
            JobStatus::Failed,
            JobStatus::Aborted,
            JobStatus::Dead,
        ] {
            assert_eq!(JobStatus::parse(status.as_str()).unwrap(), status);
        }
        assert_eq!(
            AbortOutcome::parse("abort_requested").unwrap(),
            AbortOutcome::Requested
        );
        assert!(matches!(
            JobStatus::parse("lost"),
            Err(Error::MalformedRecord(_))
        ));
    }

    #[test]
    fn a_failed_record_is_a_job_failed_error() {
        let mut record = Status::with_state(State::Failed);
        record.error = Some(ardiq_spec::Error {
            r#type: "ValueError".into(),
            message: "bad".into(),
            traceback: "Traceback".into(),
        });
        let err = outcome(JobStatus::Failed, &record).unwrap_err();
        assert!(
            matches!(&err, Error::JobFailed { remote_type, message, traceback }
                if remote_type == "ValueError" && message == "bad" && traceback == "Traceback"),
            "{err:?}"
        );
    }

    #[test]
    fn a_complete_record_without_a_value_is_nil() {
        let record = Status::with_state(State::Complete);
        assert_eq!(outcome(JobStatus::Complete, &record).unwrap(), Value::Nil);
    }
}
