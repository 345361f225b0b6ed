//! Outcome and retry policy: what Python reports for a run becomes the write
//! that ends it (a terminal status, the next attempt with its backoff, a
//! hand-back) or a dead letter with its reason.

use ardiq_spec::limits::check_job_id;
use ardiq_spec::limits::MAX_DURATION_MS;
use ardiq_spec::limits::MAX_RECORD_BYTES;
use ardiq_spec::DeadLetter;
use ardiq_spec::Error as WireError;
use ardiq_spec::Failure;
use ardiq_spec::Job;
use ardiq_spec::State;
use ardiq_spec::Status;
use ardiq_spec::DEFAULT_RESULT_TTL_MS;
use ardiq_spec::{RECORD_VERSION, RECORD_VERSION_1_1};
use prost::Message as _;
use rand::Rng as _;

use super::admission::Rejection;
use super::local::Held;
use super::metrics::Ended;
use super::now_ms;
use super::Engine;
use crate::bridge::JobEvent;

/// What Python reports for a run.
#[derive(Debug)]
pub enum Outcome {
    /// Returned; the encoded value.
    Complete(Vec<u8>),
    /// Raised.
    Failed {
        /// The error.
        error: WireError,
        /// `Retry(delay_ms=...)` asked for this delay.
        retry_delay_ms: Option<u64>,
        /// False for errors that must not be retried.
        retryable: bool,
    },
    /// Cancelled by an abort.
    Aborted,
    /// Not finished at shutdown: hand the entry back.
    Interrupted,
}

/// A write the finisher makes.
#[derive(Debug)]
pub(super) enum Action {
    Finish(FinishItem),
    Retry {
        priority: u32,
        entry_id: String,
        due_ms: i64,
        /// The next attempt's record.
        job: Job,
        aborted: Vec<u8>,
        ttl_ms: u64,
    },
    Release {
        priority: u32,
        entry_id: String,
        job_id: String,
    },
    Dead(DeadItem),
}

impl Action {
    /// The level and id of the stream entry this write is for.
    pub(super) fn entry(&self) -> (u32, &str) {
        match self {
            Self::Finish(item) => (item.priority, &item.entry_id),
            Self::Retry {
                priority, entry_id, ..
            }
            | Self::Release {
                priority, entry_id, ..
            } => (*priority, entry_id),
            Self::Dead(dead) => (dead.priority, &dead.entry_id),
        }
    }
}

/// A terminal status to store with `finish.lua`.
#[derive(Debug)]
pub(super) struct FinishItem {
    pub(super) priority: u32,
    pub(super) entry_id: String,
    /// The job, for a dead letter should Redis refuse the status.
    pub(super) job: Job,
    pub(super) ttl_ms: u64,
    pub(super) status: Vec<u8>,
    /// Spec 1.1: the kept failure of a job that failed for good.
    pub(super) failure: Option<KeptFailure>,
}

/// An entry for the kept-failures stream (SPEC.md section 9.1).
#[derive(Debug)]
pub(super) struct KeptFailure {
    /// The error type, readable in `XRANGE`.
    pub(super) error_type: String,
    /// The `Failure` record.
    pub(super) record: Vec<u8>,
}

#[derive(Debug)]
pub(super) struct DeadItem {
    pub(super) priority: u32,
    pub(super) entry_id: String,
    pub(super) job_id: String,
    pub(super) task: String,
    pub(super) reason: &'static str,
    pub(super) record: Vec<u8>,
    pub(super) status: Vec<u8>,
    pub(super) ttl_ms: u64,
    /// The entry's `id` field as `running` holds it (`Rejection::id_field`).
    pub(super) running_field: Vec<u8>,
}

/// An error as one journal field: `<type>: <message>`.
fn error_line(error: &WireError) -> String {
    format!("{}: {}", error.r#type, error.message)
}

/// A record's `spec_version`: "1.1" when it sets a field added in 1.1.
pub(super) fn record_version(uses_1_1: bool) -> &'static str {
    if uses_1_1 {
        RECORD_VERSION_1_1
    } else {
        RECORD_VERSION
    }
}

/// Longest retry delay.
pub(super) const MAX_BACKOFF_MS: u64 = 3_600_000;

/// Delay before retry number `attempt + 1`: exponential, capped, ±25 % jitter.
pub fn backoff_ms(base_ms: u64, attempt: u32, jitter: f64) -> u64 {
    let exp = base_ms
        .saturating_mul(1u64 << attempt.min(40))
        .min(MAX_BACKOFF_MS);
    (exp as f64 * (0.75 + 0.5 * jitter)) as u64
}

impl Engine {
    /// What a run's outcome writes. `ran`: how long it ran, when it started.
    pub(super) fn outcome_action(
        &self,
        held: Held,
        outcome: Outcome,
        now: i64,
        ran: Option<std::time::Duration>,
    ) -> Action {
        let Held {
            job,
            entry_id,
            priority,
            started_ms,
            progress,
            ..
        } = held;
        let status = |job: &Job, state: State, value: Vec<u8>, error: Option<WireError>| Status {
            spec_version: record_version(progress.is_some()).to_owned(),
            state: state as i32,
            value,
            error,
            attempts: job.attempt.saturating_add(1),
            enqueued_ms: job.enqueued_ms,
            started_ms,
            finished_ms: now,
            worker_id: self.config.worker_id.clone(),
            task: job.task.clone(),
            // The last progress stays with the result (SPEC.md section 16).
            progress: progress.clone(),
        };
        let finish = |job: Job, record: Status, failure: Option<KeptFailure>| {
            Action::Finish(FinishItem {
                priority,
                entry_id: entry_id.clone(),
                ttl_ms: self.ttl_of(&job),
                job,
                status: record.encode_to_vec(),
                failure,
            })
        };
        // A final failure: counted, logged with its traceback, kept.
        let failed = |job: Job, error: WireError| {
            self.local.lock().expect("local").failed += 1;
            self.journal("failed", &job, now, Some(error_line(&error)));
            self.ended(&job, Ended::Failed, ran);
            self.job_event(
                &job,
                40,
                "failed",
                ran,
                format!(
                    "job {} ({}) failed{}: {}: {}",
                    job.id,
                    job.task,
                    if job.attempt > 0 {
                        format!(" after {} attempts", job.attempt.saturating_add(1))
                    } else {
                        String::new()
                    },
                    error.r#type,
                    error.message
                ),
                &error,
            );
            let failure = self.kept_failure(&job, &error, started_ms, now);
            let record = status(&job, State::Failed, Vec::new(), Some(error));
            finish(job, record, failure)
        };
        match outcome {
            Outcome::Complete(value) => {
                if value.len() > MAX_RECORD_BYTES {
                    let error = WireError {
                        r#type: "ResultTooLarge".into(),
                        message: format!(
                            "return value of {} bytes is over the limit of {MAX_RECORD_BYTES}",
                            value.len()
                        ),
                        traceback: String::new(),
                    };
                    return failed(job, error);
                }
                self.local.lock().expect("local").completed += 1;
                self.ended(&job, Ended::Completed, ran);
                if self.bridge.job_logs() {
                    let took = ran.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
                    let message =
                        format!("job {} ({}) completed in {took:.1} ms", job.id, job.task);
                    self.job_event(&job, 20, "completed", ran, message, &WireError::default());
                }
                let record = status(&job, State::Complete, value, None);
                self.journal("completed", &job, now, None);
                finish(job, record, None)
            }
            Outcome::Failed {
                error,
                retry_delay_ms,
                retryable,
            } => {
                let task = self.config.tasks.get(&job.task);
                let max_retries = job
                    .max_retries
                    .unwrap_or_else(|| task.map_or(0, |t| t.retries));
                if !(retryable && job.attempt < max_retries) {
                    return failed(job, error);
                }
                let base = job
                    .backoff_ms
                    .unwrap_or_else(|| task.map_or(1_000, |t| t.backoff_ms));
                let delay = retry_delay_ms
                    .unwrap_or_else(|| backoff_ms(base, job.attempt, rand::rng().random::<f64>()));
                self.local.lock().expect("local").retried += 1;
                self.journal("retried", &job, now, Some(error_line(&error)));
                self.ended(&job, Ended::Retried, ran);
                // A failure that will be retried: one line, no traceback.
                self.job_event(
                    &job,
                    30,
                    "retry",
                    ran,
                    format!(
                        "job {} ({}) failed: {}: {}; retry {} of {max_retries} in {:.1} s",
                        job.id,
                        job.task,
                        error.r#type,
                        error.message,
                        job.attempt + 1,
                        delay as f64 / 1000.0
                    ),
                    &WireError {
                        traceback: String::new(),
                        ..error
                    },
                );
                let aborted = WireError {
                    r#type: "JobAborted".into(),
                    message: "aborted while it ran".into(),
                    traceback: String::new(),
                };
                let aborted = status(&job, State::Aborted, Vec::new(), Some(aborted));
                let ttl_ms = self.ttl_of(&job);
                let mut next = job;
                next.attempt += 1;
                next.due_ms = now.saturating_add(delay.min(MAX_DURATION_MS as u64) as i64);
                Action::Retry {
                    priority,
                    entry_id,
                    due_ms: next.due_ms,
                    aborted: aborted.encode_to_vec(),
                    ttl_ms,
                    job: next,
                }
            }
            Outcome::Aborted => {
                self.ended(&job, Ended::Aborted, ran);
                if self.bridge.job_logs() {
                    let message = format!("job {} ({}) aborted", job.id, job.task);
                    self.job_event(&job, 20, "aborted", ran, message, &WireError::default());
                }
                let error = WireError {
                    r#type: "JobAborted".into(),
                    message: "aborted while it ran".into(),
                    traceback: String::new(),
                };
                let record = status(&job, State::Aborted, Vec::new(), Some(error));
                self.journal("aborted", &job, now, None);
                finish(job, record, None)
            }
            Outcome::Interrupted => Action::Release {
                priority,
                entry_id,
                job_id: job.id,
            },
        }
    }

    fn ended(&self, job: &Job, ended: Ended, ran: Option<std::time::Duration>) {
        if let Some(metrics) = &self.metrics {
            metrics.ended(&job.task, ended, ran);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn job_event(
        &self,
        job: &Job,
        level: u8,
        event: &'static str,
        ran: Option<std::time::Duration>,
        message: String,
        error: &WireError,
    ) {
        self.bridge.job_event(JobEvent {
            level,
            event,
            job_id: job.id.clone(),
            task: job.task.clone(),
            queue: std::sync::Arc::clone(&self.queue_name),
            attempt: job.attempt.saturating_add(1),
            duration_ms: ran.map(|d| d.as_secs_f64() * 1000.0),
            error_type: error.r#type.clone(),
            message,
            traceback: error.traceback.clone(),
        });
    }

    /// The kept failure of a job that failed for good (spec 1.1), unless
    /// the run keeps none.
    fn kept_failure(
        &self,
        job: &Job,
        error: &WireError,
        started_ms: i64,
        now: i64,
    ) -> Option<KeptFailure> {
        if self.config.failed_maxlen == 0 {
            return None;
        }
        let record = Failure {
            spec_version: RECORD_VERSION.to_owned(),
            job_id: job.id.clone(),
            task: job.task.clone(),
            job: job.encode_to_vec(),
            error: Some(error.clone()),
            attempts: job.attempt.saturating_add(1),
            started_ms,
            failed_ms: now,
            worker_id: self.config.worker_id.clone(),
        };
        Some(KeptFailure {
            error_type: error.r#type.clone(),
            record: record.encode_to_vec(),
        })
    }

    /// The end of a job a worker was to start at or after its expiry
    /// (SPEC.md section 17): EXPIRED, and the task is not called.
    pub(super) fn expired_action(&self, held: Held, now: i64) -> Action {
        let Held {
            job,
            entry_id,
            priority,
            ..
        } = held;
        let expires_ms = job.expires_ms.unwrap_or_default();
        let error = WireError {
            r#type: "JobExpired".into(),
            message: format!("not started before its expiry at {expires_ms}"),
            traceback: String::new(),
        };
        let message = format!(
            "job {} ({}) expired at {expires_ms} before it started: not run",
            job.id, job.task
        );
        self.job_event(&job, 30, "expired", None, message, &error);
        self.journal("expired", &job, now, None);
        let record = Status {
            spec_version: RECORD_VERSION_1_1.to_owned(),
            state: State::Expired as i32,
            error: Some(error),
            attempts: job.attempt,
            enqueued_ms: job.enqueued_ms,
            finished_ms: now,
            worker_id: self.config.worker_id.clone(),
            task: job.task.clone(),
            ..Status::default()
        };
        Action::Finish(FinishItem {
            priority,
            entry_id,
            ttl_ms: self.ttl_of(&job),
            job,
            status: record.encode_to_vec(),
            failure: None,
        })
    }

    pub(super) fn dead_letter(
        &self,
        priority: u32,
        entry_id: String,
        rejection: Rejection,
        raw: Vec<u8>,
        error: Option<WireError>,
    ) {
        let dead = self.dead_item(priority, entry_id, rejection, raw, error);
        // Known until written, like a held entry's write (`Local::forget`).
        self.local
            .lock()
            .expect("local")
            .by_entry
            .insert((priority, dead.entry_id.clone()));
        self.send(Action::Dead(dead));
    }

    /// The dead letter and DEAD status of an entry that must not run.
    pub(super) fn dead_item(
        &self,
        priority: u32,
        entry_id: String,
        rejection: Rejection,
        raw: Vec<u8>,
        error: Option<WireError>,
    ) -> DeadItem {
        let now = now_ms();
        if let Some(metrics) = &self.metrics {
            metrics.dead(&rejection.task, rejection.reason);
        }
        self.log(
            30,
            format!(
                "dead-lettering entry {entry_id} (job {:?}, task {:?}): {}: {}",
                rejection.job_id, rejection.task, rejection.reason, rejection.detail
            ),
        );
        self.journal_dead(
            &rejection.job_id,
            &rejection.task,
            format!("{}: {}", rejection.reason, rejection.detail),
        );
        let record = DeadLetter {
            spec_version: RECORD_VERSION.to_owned(),
            job_id: rejection.job_id.clone(),
            task: rejection.task.clone(),
            reason: rejection.reason.to_owned(),
            detail: rejection.detail.clone(),
            job: raw,
            stream_id: entry_id.clone(),
            dead_ms: now,
            worker_id: self.config.worker_id.clone(),
            error: error.clone(),
        };
        // SPEC.md section 6: the reason code first, then the detail.
        let status = Status {
            spec_version: RECORD_VERSION.to_owned(),
            state: State::Dead as i32,
            error: Some(WireError {
                r#type: "DeadLetter".into(),
                message: format!("{}: {}", rejection.reason, rejection.detail),
                traceback: error.map(|e| e.traceback).unwrap_or_default(),
            }),
            finished_ms: now,
            worker_id: self.config.worker_id.clone(),
            task: rejection.task.clone(),
            ..Status::default()
        };
        // An id that is not a job id names no status key (SPEC.md section 9).
        let status = if check_job_id(&rejection.job_id).is_ok() {
            status.encode_to_vec()
        } else {
            Vec::new()
        };
        DeadItem {
            priority,
            entry_id,
            job_id: rejection.job_id,
            task: rejection.task,
            reason: rejection.reason,
            record: record.encode_to_vec(),
            status,
            // The default TTL: the job's own may be what was wrong with it.
            ttl_ms: DEFAULT_RESULT_TTL_MS,
            running_field: rejection.id_field,
        }
    }
}
