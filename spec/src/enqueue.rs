//! The Rust producer core: every rule for building a job lives here once.
//! [`JobRequest::check`] applies SPEC.md sections 1, 3, 5 and 7 (names,
//! bounds, defaults, `delay_ms`/`schedule_ms` to `due_ms`) and builds the
//! `Job` record; [`for_each_enqueue_arg`] lays out the exact KEYS and ARGV of
//! an `enqueue.lua` call. The worker's producer (the `ardiq` package) and
//! `ardiq-client` both enqueue through these, keeping only their I/O.

use prost::Message as _;

use crate::limits::{
    check_delay, check_duration, check_expires, check_headers, check_job_id, check_max_retries,
    check_priority, check_record_size, check_schedule, check_task_name, InvalidJob,
};
use crate::{
    Job, QueueKeys, DEFAULT_PRIORITY, PRIORITY_LEVELS, RECORD_VERSION, RECORD_VERSION_1_1,
};

/// One job as a caller describes it; user values already encoded
/// (`args` an array, `kwargs` a map, each empty for none). Integers are
/// signed so that a caller's out-of-range value reaches the check and gets
/// its typed error instead of wrapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobRequest {
    /// Task name.
    pub task: String,
    /// Canonical MessagePack array of positional arguments, or empty.
    pub args: Vec<u8>,
    /// Canonical MessagePack map of keyword arguments, or empty.
    pub kwargs: Vec<u8>,
    /// 0..=9; `None` writes the default 5.
    pub priority: Option<i64>,
    /// Run no earlier than this many ms after enqueue.
    pub delay_ms: Option<i64>,
    /// Run no earlier than this time, ms since the Unix epoch.
    pub schedule_ms: Option<i64>,
    /// The idempotency key; `None` generates a UUID v7.
    pub job_id: Option<String>,
    /// Overrides the task's retries.
    pub max_retries: Option<i64>,
    /// Overrides the task's time limit, ms (0: none).
    pub timeout_ms: Option<i64>,
    /// Overrides the task's base backoff, ms.
    pub backoff_ms: Option<i64>,
    /// Overrides the task's result TTL, ms (0: keep no result).
    pub result_ttl_ms: Option<i64>,
    /// Spec 1.1: headers for the worker, such as the W3C trace context.
    pub headers: std::collections::BTreeMap<String, String>,
    /// Not started by this time (ms since the Unix epoch), the job is not
    /// run and ends `expired` (1.1).
    pub expires_ms: Option<i64>,
}

impl JobRequest {
    /// A call of `task` with no arguments and default options.
    pub fn new(task: impl Into<String>) -> Self {
        Self {
            task: task.into(),
            ..Self::default()
        }
    }

    /// Checks the request at clock `now_ms` and builds its `Job` record;
    /// every typed error of an enqueue comes from here.
    pub fn check(self, now_ms: i64) -> Result<Job, InvalidJob> {
        check_task_name(&self.task)?;
        let id = match self.job_id {
            Some(id) => {
                check_job_id(&id)?;
                id
            }
            None => crate::new_job_id(),
        };
        let priority = match self.priority {
            Some(priority) => check_priority(priority)?,
            None => DEFAULT_PRIORITY,
        };
        let due_ms = match (self.delay_ms, self.schedule_ms) {
            (Some(_), Some(_)) => return Err(InvalidJob::delay_and_schedule()),
            (Some(delay), None) => {
                check_delay(delay)?;
                now_ms.saturating_add(delay)
            }
            (None, Some(at)) => {
                check_schedule(at)?;
                at
            }
            (None, None) => 0,
        };
        // A due time not later than the clock means "run now" (SPEC.md 7).
        let due_ms = if due_ms > now_ms { due_ms } else { 0 };
        let expires_ms = self
            .expires_ms
            .map(|at| check_expires(at, now_ms, due_ms))
            .transpose()?;
        let job = Job {
            // "1.1" only when a field added in 1.1 is set (SPEC.md section 12).
            spec_version: if expires_ms.is_some() {
                RECORD_VERSION_1_1
            } else {
                RECORD_VERSION
            }
            .to_owned(),
            id,
            task: self.task,
            args: self.args,
            kwargs: self.kwargs,
            priority,
            enqueued_ms: now_ms,
            due_ms,
            attempt: 0,
            max_retries: self.max_retries.map(check_max_retries).transpose()?,
            timeout_ms: duration("timeout_ms", self.timeout_ms)?,
            backoff_ms: duration("backoff_ms", self.backoff_ms)?,
            result_ttl_ms: duration("result_ttl_ms", self.result_ttl_ms)?,
            headers: {
                check_headers(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
                self.headers
            },
            expires_ms,
        };
        check_record_size(job.encoded_len())?;
        Ok(job)
    }

    /// Checks the request and encodes it for `enqueue.lua`.
    pub fn prepare(self, now_ms: i64) -> Result<PreparedJob, InvalidJob> {
        Ok(PreparedJob::from(self.check(now_ms)?))
    }
}

fn duration(name: &'static str, ms: Option<i64>) -> Result<Option<u64>, InvalidJob> {
    ms.map(|ms| check_duration(name, ms)).transpose()
}

/// A checked job, encoded for `enqueue.lua`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedJob {
    /// Job id.
    pub id: String,
    /// Task name.
    pub task: String,
    /// Priority level, 0..=9.
    pub priority: u32,
    /// 0 for "now", else the due time.
    pub due_ms: i64,
    /// The encoded `Job` record.
    pub record: Vec<u8>,
}

impl From<Job> for PreparedJob {
    fn from(job: Job) -> Self {
        let record = job.encode_to_vec();
        Self {
            id: job.id,
            task: job.task,
            priority: job.priority.min(PRIORITY_LEVELS - 1),
            due_ms: job.due_ms,
            record,
        }
    }
}

/// Calls `push` with the exact `enqueue.lua` KEYS of a batch (2 + 2n of
/// them), then its ARGV (4n), without building intermediate strings for
/// the ARGV.
pub fn for_each_enqueue_arg(keys: &QueueKeys, jobs: &[PreparedJob], mut push: impl FnMut(&[u8])) {
    let streams: Vec<String> = (0..PRIORITY_LEVELS).map(|p| keys.stream(p)).collect();
    push(keys.delayed().as_bytes());
    push(keys.delayed_jobs().as_bytes());
    for job in jobs {
        push(keys.job(&job.id).as_bytes());
        push(streams[job.priority as usize].as_bytes());
    }
    for job in jobs {
        push(job.id.as_bytes());
        push(job.task.as_bytes());
        if job.due_ms == 0 {
            push(b"0");
        } else {
            push(job.due_ms.to_string().as_bytes());
        }
        push(&job.record);
    }
}

/// The exact `enqueue.lua` KEYS and ARGV of a batch.
pub fn enqueue_call(keys: &QueueKeys, jobs: &[PreparedJob]) -> (Vec<String>, Vec<Vec<u8>>) {
    let key_count = 2 + 2 * jobs.len();
    let mut call_keys = Vec::with_capacity(key_count);
    let mut argv = Vec::with_capacity(4 * jobs.len());
    for_each_enqueue_arg(keys, jobs, |part| {
        if call_keys.len() < key_count {
            call_keys.push(String::from_utf8_lossy(part).into_owned());
        } else {
            argv.push(part.to_vec());
        }
    });
    (call_keys, argv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{MAX_DURATION_MS, MAX_SCHEDULE_MS};

    const NOW: i64 = 1_700_000_000_000;

    fn with(f: impl FnOnce(&mut JobRequest)) -> Result<Job, InvalidJob> {
        let mut request = JobRequest::new("add");
        request.job_id = Some("j".into());
        f(&mut request);
        request.check(NOW)
    }

    #[test]
    fn defaults_write_priority_five_and_run_now() {
        let job = with(|_| {}).unwrap();
        assert_eq!((job.priority, job.due_ms, job.attempt), (5, 0, 0));
        assert_eq!(job.enqueued_ms, NOW);
        assert!(job.args.is_empty() && job.max_retries.is_none());
    }

    #[test]
    fn delay_is_relative_and_a_past_schedule_runs_now() {
        assert_eq!(with(|r| r.delay_ms = Some(250)).unwrap().due_ms, NOW + 250);
        assert_eq!(with(|r| r.delay_ms = Some(0)).unwrap().due_ms, 0);
        assert_eq!(with(|r| r.schedule_ms = Some(NOW)).unwrap().due_ms, 0);
        assert_eq!(with(|r| r.schedule_ms = Some(5)).unwrap().due_ms, 0);
        assert_eq!(
            with(|r| r.schedule_ms = Some(MAX_SCHEDULE_MS))
                .unwrap()
                .due_ms,
            MAX_SCHEDULE_MS
        );
    }

    #[test]
    fn every_option_out_of_bounds_is_its_typed_error() {
        type Check = fn(&InvalidJob) -> bool;
        let delay: Check = |e| matches!(e, InvalidJob::Delay { .. });
        let option: Check = |e| matches!(e, InvalidJob::Option { .. });
        let cases: Vec<(Result<Job, InvalidJob>, Check)> = vec![
            (with(|r| r.schedule_ms = Some(-1)), delay),
            (with(|r| r.delay_ms = Some(MAX_DURATION_MS + 1)), delay),
            (
                with(|r| {
                    r.delay_ms = Some(1);
                    r.schedule_ms = Some(NOW + 1);
                }),
                delay,
            ),
            (with(|r| r.max_retries = Some(1001)), option),
            (with(|r| r.max_retries = Some(-1)), option),
            (with(|r| r.timeout_ms = Some(-1)), option),
            (with(|r| r.backoff_ms = Some(MAX_DURATION_MS + 1)), option),
            (with(|r| r.result_ttl_ms = Some(i64::MAX)), option),
            (with(|r| r.priority = Some(10)), |e| {
                matches!(e, InvalidJob::Priority(_))
            }),
            (with(|r| r.job_id = Some(String::new())), |e| {
                matches!(e, InvalidJob::JobId(_))
            }),
            (with(|r| r.args = vec![0; 1 << 20]), |e| {
                matches!(e, InvalidJob::PayloadTooLarge(_))
            }),
        ];
        for (outcome, expected) in cases {
            let err = outcome.unwrap_err();
            assert!(expected(&err), "{err:?}");
        }
    }

    #[test]
    fn the_enqueue_call_names_every_key_then_every_argument() {
        let jobs: Vec<PreparedJob> = ["a", "b"]
            .iter()
            .map(|id| {
                let mut request = JobRequest::new("t");
                request.job_id = Some((*id).into());
                request.priority = Some(9);
                request.prepare(NOW).unwrap()
            })
            .collect();
        let (keys, argv) = enqueue_call(&QueueKeys::new("q"), &jobs);
        assert_eq!(
            keys,
            [
                "ardiq:{q}:delayed",
                "ardiq:{q}:delayed:jobs",
                "ardiq:{q}:job:a",
                "ardiq:{q}:stream:9",
                "ardiq:{q}:job:b",
                "ardiq:{q}:stream:9"
            ]
        );
        assert_eq!(argv.len(), 8);
        assert_eq!(argv[..3], [b"a".to_vec(), b"t".to_vec(), b"0".to_vec()]);
    }
}
