//! Building jobs: [`EnqueueRequest`] holds one job's task, arguments and
//! options through the client's builder methods; every rule that checks and
//! encodes it is the spec crate's producer core (`ardiq_spec::enqueue`),
//! shared with the worker.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ardiq_spec::enqueue::{enqueue_call as spec_enqueue_call, JobRequest, PreparedJob};
use ardiq_spec::{QueueKeys, Value};
use serde::Serialize;

use crate::value::to_arguments;
use crate::{Error, Result};

/// One job to enqueue: a task name, its arguments and options.
///
/// Build one with [`EnqueueRequest::new`] and the option methods, then hand
/// it to [`Client::enqueue_many`](crate::Client::enqueue_many); or use
/// [`Client::enqueue`](crate::Client::enqueue), which offers the same methods
/// and sends a single job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnqueueRequest {
    job: JobRequest,
}

impl EnqueueRequest {
    /// A call of `task` with no arguments and default options.
    pub fn new(task: impl Into<String>) -> Self {
        Self {
            job: JobRequest::new(task),
        }
    }

    /// Sets the positional arguments: anything that serializes as a sequence
    /// (a tuple, array or `Vec`); `()` means none.
    ///
    /// # Errors
    /// [`Error::UnsupportedValue`] when a value is outside the spec's type
    /// table, naming its path (`args[1].when`).
    pub fn args<A: Serialize>(mut self, args: A) -> Result<Self> {
        self.job.args = match to_arguments(&args, "args")? {
            Value::Nil => Vec::new(),
            Value::Array(items) => encode_args(items),
            other => return Err(not_a(&other, "args", "a sequence (a tuple, array or Vec)")),
        };
        Ok(self)
    }

    /// Sets the keyword arguments: anything that serializes as a map with
    /// string keys (a struct, `HashMap<String, _>`, `BTreeMap<String, _>`).
    ///
    /// # Errors
    /// [`Error::UnsupportedValue`] when a value is outside the type table or
    /// a key is not a string.
    pub fn kwargs<K: Serialize>(mut self, kwargs: K) -> Result<Self> {
        self.job.kwargs = match to_arguments(&kwargs, "kwargs")? {
            Value::Nil => Vec::new(),
            Value::Map(entries) => encode_kwargs(entries),
            other => {
                return Err(not_a(
                    &other,
                    "kwargs",
                    "a map with string keys (a struct or map)",
                ))
            }
        };
        Ok(self)
    }

    /// Sets the priority, 0 (lowest) to 9 (highest); the default is 5.
    /// Checked when the job is sent ([`Error::InvalidPriority`]).
    #[must_use]
    pub fn priority(mut self, priority: i64) -> Self {
        self.job.priority = Some(priority);
        self
    }

    /// Runs the job no earlier than `delay` after it is sent.
    #[must_use]
    pub fn delay(self, delay: Duration) -> Self {
        self.delay_ms(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX))
    }

    /// Runs the job no earlier than `delay_ms` milliseconds after it is sent;
    /// for callers that hold signed milliseconds. A delay outside 0 to 100
    /// years is rejected when the job is sent ([`Error::InvalidDelay`]).
    /// Replaces an earlier `schedule_*`.
    #[must_use]
    pub fn delay_ms(mut self, delay_ms: i64) -> Self {
        self.job.delay_ms = Some(delay_ms);
        self.job.schedule_ms = None;
        self
    }

    /// Runs the job no earlier than `at`; a time already past runs it now.
    #[must_use]
    pub fn schedule_at(self, at: SystemTime) -> Self {
        self.schedule_ms(system_time_ms(at))
    }

    /// Runs the job no earlier than `at_ms`, milliseconds since the Unix
    /// epoch; a negative time, or one after 9999-12-31, is rejected when the
    /// job is sent ([`Error::InvalidDelay`]). Replaces an earlier `delay*`.
    #[must_use]
    pub fn schedule_ms(mut self, at_ms: i64) -> Self {
        self.job.schedule_ms = Some(at_ms);
        self.job.delay_ms = None;
        self
    }

    /// Does not run the job unless a worker starts it before `at`: past
    /// it, the job ends [`JobStatus::Expired`](crate::JobStatus::Expired)
    /// unrun. `at` must be in the future and, for a delayed job, after its
    /// due time, or the send fails with [`Error::InvalidOption`].
    #[must_use]
    pub fn expires_at(self, at: SystemTime) -> Self {
        self.expires_ms(system_time_ms(at))
    }

    /// [`expires_at`](Self::expires_at) in ms since the Unix epoch.
    #[must_use]
    pub fn expires_ms(mut self, at_ms: i64) -> Self {
        self.job.expires_ms = Some(at_ms);
        self
    }

    /// Sets the job id, the idempotency key: a job whose id is still known
    /// to the queue is not enqueued again. The default is a new UUID v7.
    #[must_use]
    pub fn job_id(mut self, id: impl Into<String>) -> Self {
        self.job.job_id = Some(id.into());
        self
    }

    /// Overrides the task's number of retries, at most 1,000
    /// ([`Error::InvalidOption`] when the job is sent).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.job.max_retries = Some(i64::from(retries));
        self
    }

    /// Overrides the task's timeout; zero means none; at most 100 years.
    /// A fraction of a millisecond counts as a whole one (so 500 µs is 1 ms,
    /// not none).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.job.timeout_ms = Some(duration_ms(timeout));
        self
    }

    /// Overrides the task's base retry backoff; at most 100 years. A
    /// fraction of a millisecond counts as a whole one.
    #[must_use]
    pub fn backoff(mut self, backoff: Duration) -> Self {
        self.job.backoff_ms = Some(duration_ms(backoff));
        self
    }

    /// Overrides how long the result is kept; zero keeps none; at most 100
    /// years. A fraction of a millisecond counts as a whole one (so 500 µs
    /// keeps it 1 ms).
    #[must_use]
    pub fn result_ttl(mut self, ttl: Duration) -> Self {
        self.job.result_ttl_ms = Some(duration_ms(ttl));
        self
    }

    /// Adds a header (spec 1.1): a string the worker hands to the run,
    /// such as the W3C `traceparent`; a name given twice keeps the last
    /// value. At most 64 headers, names 1 to 256 bytes without white space,
    /// values 1 to 8192 bytes ([`Error::InvalidOption`] when the job is
    /// sent). With the `opentelemetry` feature the current trace context is
    /// added by itself.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.job.headers.insert(name.into(), value.into());
        self
    }

    /// The task name.
    pub fn task(&self) -> &str {
        &self.job.task
    }

    /// Checks the request at clock `now_ms` and builds its `Job` record;
    /// also returns the job's result TTL override, which its handle needs.
    ///
    /// # Errors
    /// The spec's producer errors: [`Error::InvalidTaskName`],
    /// [`Error::InvalidJobId`], [`Error::InvalidPriority`],
    /// [`Error::InvalidDelay`], [`Error::InvalidOption`],
    /// [`Error::PayloadTooLarge`].
    pub(crate) fn check(mut self, now_ms: i64) -> Result<(ardiq_spec::Job, Option<u64>)> {
        crate::trace::inject(&mut self.job.headers);
        let result_ttl_ms = self.job.result_ttl_ms.and_then(|ms| u64::try_from(ms).ok());
        Ok((self.job.check(now_ms)?, result_ttl_ms))
    }
}

/// The exact `enqueue.lua` KEYS and ARGV for a batch of jobs.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnqueueCall {
    /// `KEYS`, in order.
    pub keys: Vec<String>,
    /// `ARGV`, in order, as bytes.
    pub argv: Vec<Vec<u8>>,
}

/// The `enqueue.lua` KEYS and ARGV this client sends for one job on `queue`
/// at clock `now_ms`. Pure: it reads no clock and touches no Redis (a job
/// without an id still gets a fresh UUID v7). The conformance testee uses it
/// to compare bytes across implementations.
#[doc(hidden)]
pub fn enqueue_call(queue: &str, request: EnqueueRequest, now_ms: i64) -> Result<EnqueueCall> {
    ardiq_spec::limits::check_queue_name(queue)?;
    let (job, _) = request.check(now_ms)?;
    let (keys, argv) = spec_enqueue_call(&QueueKeys::new(queue), &[PreparedJob::from(job)]);
    Ok(EnqueueCall { keys, argv })
}

/// The canonical `args` bytes: empty for no arguments (SPEC.md 3).
fn encode_args(items: Vec<Value>) -> Vec<u8> {
    if items.is_empty() {
        Vec::new()
    } else {
        ardiq_spec::value::to_vec(&Value::Array(items))
    }
}

/// The canonical `kwargs` bytes: empty for no keyword arguments (SPEC.md 3).
fn encode_kwargs(entries: Vec<(String, Value)>) -> Vec<u8> {
    if entries.is_empty() {
        Vec::new()
    } else {
        ardiq_spec::value::to_vec(&Value::Map(entries))
    }
}

fn not_a(found: &Value, root: &str, expected: &str) -> Error {
    let kind = match found {
        Value::Nil => "nil",
        Value::Bool(_) => "a bool",
        Value::Int(_) => "an int",
        Value::Float(_) => "a float",
        Value::Str(_) => "a str",
        Value::Bytes(_) => "bytes",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
    };
    Error::UnsupportedValue {
        path: root.to_owned(),
        what: format!("{root} must be {expected}, found {kind}"),
    }
}

/// A duration in ms for the producer core, a fraction of a ms rounded up:
/// 0 means "none" to these fields, so no non-zero duration may become 0.
/// One too long for an `i64` is still too long for the spec, and reported
/// as such.
fn duration_ms(duration: Duration) -> i64 {
    let ms = duration.as_millis() + u128::from(duration.subsec_nanos() % 1_000_000 != 0);
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Milliseconds since the Unix epoch; times before it are negative.
pub(crate) fn system_time_ms(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The producer's clock, ms since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    system_time_ms(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ardiq_spec::Job;
    use prost::Message as _;

    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn decode_job(call: &EnqueueCall) -> Job {
        Job::decode(call.argv[3].as_slice()).unwrap()
    }

    #[test]
    fn a_plain_job_runs_now_with_default_priority() {
        let request = EnqueueRequest::new("add")
            .args((1, 2))
            .unwrap()
            .job_id("j1");
        let call = enqueue_call("mail", request, NOW).unwrap();
        assert_eq!(
            call.keys,
            [
                "ardiq:{mail}:delayed",
                "ardiq:{mail}:delayed:jobs",
                "ardiq:{mail}:job:j1",
                "ardiq:{mail}:stream:5"
            ]
        );
        assert_eq!(
            call.argv[..3],
            [b"j1".to_vec(), b"add".to_vec(), b"0".to_vec()]
        );
        let job = decode_job(&call);
        assert_eq!(job.args, vec![0x92, 0x01, 0x02]);
        assert!(job.kwargs.is_empty());
        assert_eq!(
            (job.priority, job.enqueued_ms, job.due_ms, job.attempt),
            (5, NOW, 0, 0)
        );
        assert_eq!(job.spec_version, "1.0");
    }

    #[test]
    fn empty_arguments_are_written_as_empty_bytes() {
        let request = EnqueueRequest::new("t").args(Vec::<i32>::new()).unwrap();
        let request = request
            .kwargs(BTreeMap::<String, i32>::new())
            .unwrap()
            .job_id("j");
        let job = decode_job(&enqueue_call("q", request, NOW).unwrap());
        assert!(job.args.is_empty() && job.kwargs.is_empty());
    }

    #[test]
    fn a_delay_sets_due_ms_from_the_clock() {
        let request = EnqueueRequest::new("t")
            .job_id("j")
            .delay(Duration::from_millis(1500));
        let call = enqueue_call("q", request, NOW).unwrap();
        assert_eq!(call.argv[2], (NOW + 1500).to_string().into_bytes());
        assert_eq!(decode_job(&call).due_ms, NOW + 1500);
    }

    #[test]
    fn a_schedule_not_after_the_clock_runs_now() {
        for at in [NOW - 1, NOW] {
            let request = EnqueueRequest::new("t").job_id("j").schedule_ms(at);
            let call = enqueue_call("q", request, NOW).unwrap();
            assert_eq!(call.argv[2], b"0");
            assert_eq!(decode_job(&call).due_ms, 0);
        }
        let request = EnqueueRequest::new("t").job_id("j").delay_ms(0);
        assert_eq!(enqueue_call("q", request, NOW).unwrap().argv[2], b"0");
    }

    #[test]
    fn options_are_written_even_when_zero() {
        let request = EnqueueRequest::new("t")
            .job_id("j")
            .priority(9)
            .max_retries(0)
            .timeout(Duration::ZERO)
            .backoff(Duration::from_millis(250))
            .result_ttl(Duration::ZERO);
        let call = enqueue_call("q", request, NOW).unwrap();
        assert_eq!(call.keys[3], "ardiq:{q}:stream:9");
        let job = decode_job(&call);
        assert_eq!(
            (
                job.max_retries,
                job.timeout_ms,
                job.backoff_ms,
                job.result_ttl_ms
            ),
            (Some(0), Some(0), Some(250), Some(0))
        );
    }

    #[test]
    fn a_fraction_of_a_millisecond_is_rounded_up_not_to_none() {
        let request = EnqueueRequest::new("t")
            .job_id("j")
            .timeout(Duration::from_micros(500))
            .backoff(Duration::from_nanos(1_500_001))
            .result_ttl(Duration::from_nanos(1));
        let job = decode_job(&enqueue_call("q", request, NOW).unwrap());
        assert_eq!(
            (job.timeout_ms, job.backoff_ms, job.result_ttl_ms),
            (Some(1), Some(2), Some(1))
        );
    }

    #[test]
    fn a_missing_job_id_becomes_a_uuid_v7() {
        let call = enqueue_call("q", EnqueueRequest::new("t"), NOW).unwrap();
        let id = String::from_utf8(call.argv[0].clone()).unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "7");
        assert_eq!(id, id.to_lowercase());
    }

    #[test]
    fn invalid_requests_are_typed_errors() {
        type Check = fn(&Error) -> bool;
        let cases: Vec<(EnqueueRequest, Check)> = vec![
            (EnqueueRequest::new(""), |e| {
                matches!(e, Error::InvalidTaskName(_))
            }),
            (EnqueueRequest::new("x".repeat(257)), |e| {
                matches!(e, Error::InvalidTaskName(_))
            }),
            (EnqueueRequest::new("t").job_id("a b"), |e| {
                matches!(e, Error::InvalidJobId(_))
            }),
            (EnqueueRequest::new("t").job_id(""), |e| {
                matches!(e, Error::InvalidJobId(_))
            }),
            (EnqueueRequest::new("t").priority(10), |e| {
                matches!(e, Error::InvalidPriority(_))
            }),
            (EnqueueRequest::new("t").priority(-1), |e| {
                matches!(e, Error::InvalidPriority(_))
            }),
            (EnqueueRequest::new("t").delay_ms(-5), |e| {
                matches!(e, Error::InvalidDelay(_))
            }),
            (
                EnqueueRequest::new("t")
                    .args((serde_bytes::ByteBuf::from(vec![0u8; 1 << 20]),))
                    .unwrap(),
                |e| matches!(e, Error::PayloadTooLarge { .. }),
            ),
        ];
        for (request, expected) in cases {
            let err = enqueue_call("q", request.clone(), NOW).unwrap_err();
            assert!(expected(&err), "{request:?} gave {err:?}");
        }
    }

    #[test]
    fn args_must_be_a_sequence_and_kwargs_a_map() {
        let err = EnqueueRequest::new("t").args(5).unwrap_err();
        assert!(
            matches!(&err, Error::UnsupportedValue { path, .. } if path == "args"),
            "{err:?}"
        );
        let err = EnqueueRequest::new("t").kwargs((1, 2)).unwrap_err();
        assert!(
            matches!(&err, Error::UnsupportedValue { path, .. } if path == "kwargs"),
            "{err:?}"
        );
    }

    #[test]
    fn an_invalid_queue_name_is_rejected() {
        for queue in ["", "a{b", "a b", &"q".repeat(129)] {
            let err = enqueue_call(queue, EnqueueRequest::new("t"), NOW).unwrap_err();
            assert!(
                matches!(err, Error::InvalidQueueName(_)),
                "{queue:?}: {err:?}"
            );
        }
    }
}
