//! The client: a connection to one queue, the single and batch enqueue
//! entry points (the sending itself is `send`), and the script calls behind
//! job handles (`status.lua`, `abort.lua`).

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ardiq_spec::{scripts, QueueKeys, Status};
use prost::Message as _;
use redis::{Script, Value as RedisValue};
use serde::Serialize;

use crate::connection::{ConnectOptions, Connection};
use crate::pubsub::Hub;

use crate::enqueue::{now_ms, EnqueueRequest};
use crate::job::{Job, JobStatus};
use crate::{Error, Result};

pub(crate) static ENQUEUE: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::ENQUEUE));
static STATUS: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::STATUS));
static ABORT: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::ABORT));
static WAIT: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::WAIT));

/// The queue a client uses unless told otherwise.
pub const DEFAULT_QUEUE: &str = "default";

/// A producer connected to one queue. Cheap to clone: clones share
/// one multiplexed connection, which reconnects by itself.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use ardiq_client::Client;
///
/// let url = std::env::var("REDIS_URL").expect("REDIS_URL must name a test Redis");
/// let client = Client::connect_queue(&url, "doc-client").await?;
/// let job = client.enqueue("add").args((1, 2))?.send().await?;
/// assert!(!job.is_duplicate());
/// # Ok::<(), ardiq_client::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) connection: Connection,
    pub(crate) keys: QueueKeys,
    /// Whether `enqueue.lua` is known to be in the server's script cache.
    pub(crate) enqueue_loaded: AtomicBool,
    /// The subscriber that wakes waiting `result()` calls (shared with
    /// every client made by `with_queue`).
    pub(crate) hub: Arc<Hub>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("queue", &self.inner.keys.queue())
            .field("connection", &self.inner.connection)
            .finish()
    }
}

/// Options for [`Client`] before it connects.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    queue: String,
    options: ConnectOptions,
}

impl ClientBuilder {
    /// Uses queue `queue` instead of `default`.
    #[must_use]
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// How long connecting may take (default 2 s); then
    /// [`Error::Connection`].
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// How long any one command may wait for its reply (default 5 s); then
    /// [`Error::Connection`]. A call whose connection broke is sent once
    /// more on a new connection first; a timed-out call is not.
    #[must_use]
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.options.command_timeout = timeout;
        self
    }

    /// Every connection option at once (timeouts, trusted CAs, whether the
    /// URL is a cluster node), replacing those set before.
    #[must_use]
    pub fn connect_options(mut self, options: ConnectOptions) -> Self {
        self.options = options;
        self
    }

    /// Trusts the CA certificates in the PEM file at `path` for `rediss://`
    /// instead of the public roots (a private CA).
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when the file cannot be read.
    pub fn ca_file(mut self, path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|err| {
            Error::InvalidUrl(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "cannot read the CA file",
                format!("{}: {err}", path.display()),
            )))
        })?;
        self.options.ca_pem = Some(pem);
        Ok(self)
    }

    /// Connects.
    ///
    /// # Errors
    /// [`Error::InvalidQueueName`], [`Error::InvalidUrl`],
    /// [`Error::Connection`] when Redis cannot be reached,
    /// [`Error::Authentication`] when it refuses the credentials.
    pub async fn connect(self) -> Result<Client> {
        ardiq_spec::limits::check_queue_name(&self.queue)?;
        let connection = Connection::open(&self.url, &self.options, Duration::ZERO)
            .await
            .map_err(Error::from_redis)?;
        let keys = QueueKeys::new(&self.queue);
        let enqueue_loaded = AtomicBool::new(false);
        Ok(Client {
            inner: Arc::new(Inner {
                connection,
                keys,
                enqueue_loaded,
                hub: Hub::new(self.url, self.options),
            }),
        })
    }
}

impl Client {
    /// Options for a client of the Redis at `url`: `redis://` or `rediss://`
    /// (TLS), with an ACL user name and password in the URL when needed
    /// (`redis://user:secret@host:6379/0`).
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            queue: DEFAULT_QUEUE.to_owned(),
            options: ConnectOptions::default(),
        }
    }

    /// Connects to queue `default` of the Redis at `url`.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::builder(url).connect().await
    }

    /// Connects to queue `queue` of the Redis at `url`.
    pub async fn connect_queue(url: &str, queue: &str) -> Result<Self> {
        Self::builder(url).queue(queue).connect().await
    }

    /// The queue name.
    pub fn queue(&self) -> &str {
        self.inner.keys.queue()
    }

    /// A client of queue `queue` on the same connection (no new socket).
    ///
    /// # Errors
    /// [`Error::InvalidQueueName`].
    pub fn with_queue(&self, queue: &str) -> Result<Self> {
        ardiq_spec::limits::check_queue_name(queue)?;
        Ok(Self {
            inner: Arc::new(Inner {
                connection: self.connection(),
                keys: QueueKeys::new(queue),
                enqueue_loaded: AtomicBool::new(
                    self.inner
                        .enqueue_loaded
                        .load(std::sync::atomic::Ordering::Relaxed),
                ),
                hub: Arc::clone(&self.inner.hub),
            }),
        })
    }

    /// Checks that Redis answers (`PING`).
    ///
    /// # Errors
    /// [`Error::Connection`], [`Error::Authentication`].
    pub async fn ping(&self) -> Result<()> {
        redis::cmd("PING")
            .query_async::<()>(&mut self.connection())
            .await
            .map_err(Error::from_redis)
    }

    /// Whether the client talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.inner.connection.is_cluster()
    }

    /// Starts a job of `task`; set arguments and options, then
    /// [`send`](Enqueue::send) it.
    pub fn enqueue(&self, task: impl Into<String>) -> Enqueue<'_> {
        Enqueue {
            client: self,
            request: EnqueueRequest::new(task),
        }
    }

    /// Enqueues one prepared request.
    pub async fn enqueue_request(&self, request: EnqueueRequest) -> Result<Job> {
        let mut jobs = self.enqueue_many(vec![request]).await?;
        Ok(jobs.pop().expect("one reply per job"))
    }

    /// Enqueues many jobs: every request is checked and encoded first, so an
    /// invalid one fails the call before anything is written; then the jobs
    /// go out as one `enqueue.lua` call per 200, all pipelined.
    ///
    /// Returns one handle per request, in order.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use ardiq_client::{Client, EnqueueOutcome, EnqueueRequest};
    ///
    /// let url = std::env::var("REDIS_URL").expect("REDIS_URL must name a test Redis");
    /// let client = Client::connect_queue(&url, "doc-many").await?;
    /// let requests = (0..2500)
    ///     .map(|i| EnqueueRequest::new("add").args((i, 1)))
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// let jobs = client.enqueue_many(requests).await?;
    /// assert_eq!(jobs.len(), 2500);
    /// assert!(jobs.iter().all(|job| job.outcome() == Some(EnqueueOutcome::Queued)));
    /// # Ok::<(), ardiq_client::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn enqueue_many(&self, requests: Vec<EnqueueRequest>) -> Result<Vec<Job>> {
        let now = now_ms();
        let mut jobs = Vec::with_capacity(requests.len());
        let mut handles = Vec::with_capacity(requests.len());
        for request in requests {
            let (job, result_ttl_ms) = request.check(now)?;
            handles.push((job.id.clone(), result_ttl_ms));
            jobs.push(job);
        }
        let outcomes = self.enqueue_jobs(jobs).await?;
        Ok(handles
            .into_iter()
            .zip(outcomes)
            .map(|((id, result_ttl_ms), outcome)| {
                Job::new(self.clone(), id, Some(outcome), result_ttl_ms)
            })
            .collect())
    }

    /// A clone of the client's connection (a handle on the shared sockets).
    pub(crate) fn connection(&self) -> Connection {
        self.inner.connection.clone()
    }

    /// A handle on the job with id `id`, whether or not it exists.
    pub fn job(&self, id: impl Into<String>) -> Job {
        Job::new(self.clone(), id.into(), None, None)
    }

    /// `status.lua`: the derived state and the status record bytes.
    pub(crate) async fn read_status(&self, id: &str) -> Result<(JobStatus, Option<Vec<u8>>)> {
        let keys = &self.inner.keys;
        // redis-rs's script runs EVALSHA, and SCRIPT LOAD then EVALSHA again
        // on NOSCRIPT.
        let reply: RedisValue = STATUS
            .key(keys.job(id))
            .key(keys.running())
            .key(keys.delayed())
            .arg(id)
            .invoke_async(&mut self.connection())
            .await
            .map_err(Error::from_redis)?;
        let malformed = || Error::MalformedRecord(format!("status.lua replied {reply:?}"));
        let RedisValue::Array(items) = &reply else {
            return Err(malformed());
        };
        let [state, record] = items.as_slice() else {
            return Err(malformed());
        };
        let state: String = redis::from_redis_value(state).map_err(|_| malformed())?;
        let record = match record {
            RedisValue::Nil => None,
            other => Some(redis::from_redis_value::<Vec<u8>>(other).map_err(|_| malformed())?),
        };
        Ok((JobStatus::parse(&state)?, record))
    }

    /// `wait.lua`: registers a wait on `id` until `deadline_ms` and tells
    /// the queue's workers that someone waits.
    pub(crate) async fn run_wait(
        &self,
        id: &str,
        deadline_ms: i64,
    ) -> std::result::Result<(), redis::RedisError> {
        let keys = &self.inner.keys;
        WAIT.key(keys.waiters())
            .arg(now_ms())
            .arg(deadline_ms)
            .arg(keys.events())
            .arg(id)
            .invoke_async::<i64>(&mut self.connection())
            .await?;
        Ok(())
    }

    /// `abort.lua`: its reply, as text.
    pub(crate) async fn run_abort(&self, id: &str, ttl_ms: u64) -> Result<String> {
        let keys = &self.inner.keys;
        let aborted = Status::aborted_before_run(now_ms()).encode_to_vec();
        let reply: RedisValue = ABORT
            .key(keys.job(id))
            .key(keys.delayed())
            .key(keys.delayed_jobs())
            .key(keys.abort())
            .key(keys.waiters())
            .arg(id)
            .arg(ttl_ms)
            .arg(aborted)
            .arg(keys.events())
            .arg(now_ms())
            .invoke_async(&mut self.connection())
            .await
            .map_err(Error::from_redis)?;
        redis::from_redis_value(&reply)
            .map_err(|_| Error::MalformedRecord(format!("abort.lua replied {reply:?}")))
    }
}

/// One job being built by [`Client::enqueue`]; [`send`](Self::send) enqueues it.
#[derive(Debug)]
#[must_use = "a job is enqueued only when sent"]
pub struct Enqueue<'c> {
    client: &'c Client,
    request: EnqueueRequest,
}

/// Forwards a consuming option method to the request.
macro_rules! forward {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub fn $name(self, $($arg: $ty),*) -> Self {
            Self { client: self.client, request: self.request.$name($($arg),*) }
        }
    };
}

impl Enqueue<'_> {
    /// Sets the positional arguments; see [`EnqueueRequest::args`].
    pub fn args<A: Serialize>(self, args: A) -> Result<Self> {
        Ok(Self {
            client: self.client,
            request: self.request.args(args)?,
        })
    }

    /// Sets the keyword arguments; see [`EnqueueRequest::kwargs`].
    pub fn kwargs<K: Serialize>(self, kwargs: K) -> Result<Self> {
        Ok(Self {
            client: self.client,
            request: self.request.kwargs(kwargs)?,
        })
    }

    forward!(
        /// Sets the priority, 0 to 9 (default 5).
        priority(priority: i64)
    );
    forward!(
        /// Runs the job no earlier than `delay` from now.
        delay(delay: Duration)
    );
    forward!(
        /// Runs the job no earlier than `delay_ms` ms from now.
        delay_ms(delay_ms: i64)
    );
    forward!(
        /// Runs the job no earlier than `at`.
        schedule_at(at: std::time::SystemTime)
    );
    forward!(
        /// Runs the job no earlier than `at_ms`, ms since the Unix epoch.
        schedule_ms(at_ms: i64)
    );
    forward!(
        /// Does not run the job unless a worker starts it before `at`.
        expires_at(at: std::time::SystemTime)
    );
    forward!(
        /// Does not run the job unless a worker starts it before `at_ms`.
        expires_ms(at_ms: i64)
    );
    forward!(
        /// Sets the job id (the idempotency key).
        job_id(id: impl Into<String>)
    );
    forward!(
        /// Overrides the task's number of retries.
        max_retries(retries: u32)
    );
    forward!(
        /// Overrides the task's timeout; zero means none.
        timeout(timeout: Duration)
    );
    forward!(
        /// Overrides the task's base retry backoff.
        backoff(backoff: Duration)
    );
    forward!(
        /// Overrides how long the result is kept; zero keeps none.
        result_ttl(ttl: Duration)
    );
    forward!(
        /// Adds a header; see [`EnqueueRequest::header`].
        header(name: impl Into<String>, value: impl Into<String>)
    );

    /// The request as built so far.
    pub fn into_request(self) -> EnqueueRequest {
        self.request
    }

    /// Enqueues the job.
    ///
    /// # Errors
    /// The request's validation errors (nothing is written then), and
    /// connection or Redis errors.
    pub async fn send(self) -> Result<Job> {
        self.client.enqueue_request(self.request).await
    }
}
