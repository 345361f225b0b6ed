//! One pub/sub connection per process part (a client and its clones, or a
//! worker run), shared by everyone listening to the queues' events channels
//! (SPEC.md section 15): listeners register a callback per channel, and
//! [`Hub::ensure`] (re)connects and (re)subscribes when needed, so a broken
//! connection costs the messages sent meanwhile and nothing else. Every
//! message on these channels is a hint; callers keep a fallback.
//!
//! Callers that find the hub unsubscribed at once share one attempt to
//! connect and subscribe, and after a failed attempt the hub waits
//! [`RETRY_AFTER`] before it tries again: many waits on a Redis that refuses
//! connections make one attempt a second, not one per wait and poll.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

use futures::StreamExt as _;
use redis::aio::PubSubSink;
use redis::RedisError;

use crate::connection::ConnectOptions;

type Callback = Arc<dyn Fn(&str) + Send + Sync>;

/// How long the hub waits after a failed connect or subscribe before it
/// tries again (the other clients wait as long).
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A shared subscriber connection to the Redis at one URL (on a cluster, to
/// the node the URL names: ordinary pub/sub messages reach every node).
pub struct Hub {
    url: String,
    options: ConnectOptions,
    state: Mutex<State>,
    /// Held while connecting or subscribing, so callers that come meanwhile
    /// wait for that attempt instead of opening connections of their own.
    opening: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    /// The live connection's sending half, `None` while there is none.
    sink: Option<PubSubSink>,
    /// Channels subscribed on the live connection.
    subscribed: HashSet<String>,
    /// Bumped for each new connection, so a stale reader does not clear a
    /// newer connection's state.
    generation: u64,
    listeners: HashMap<String, Vec<(u64, Callback)>>,
    next_listener: u64,
    /// Redis refused this user pub/sub or `wait.lua` (an ACL): the hub
    /// does not ask again, and its users poll.
    refused: bool,
    /// After a failed attempt, no other before this time.
    retry_at: Option<Instant>,
}

impl State {
    /// True when `channel` is subscribed, false when the caller may try to
    /// subscribe, an error when it may not (refused before, or the last
    /// attempt failed less than [`RETRY_AFTER`] ago).
    fn check(&self, channel: &str) -> Result<bool, RedisError> {
        if self.refused {
            return Err(RedisError::from((
                redis::ErrorKind::ResponseError,
                "pub/sub refused",
                "Redis refused this user pub/sub or wait.lua before".to_owned(),
            )));
        }
        if self.subscribed.contains(channel) {
            return Ok(true);
        }
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            return Err(RedisError::from((
                redis::ErrorKind::IoError,
                "pub/sub unavailable",
                "connecting for pub/sub failed less than a second ago".to_owned(),
            )));
        }
        Ok(false)
    }
}

/// How an attempt to subscribe failed.
enum Failed {
    /// Redis refused this user the subscription (an ACL).
    Refused(RedisError),
    /// Redis could not be reached, or took too long.
    Other(RedisError),
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("url", &"…")
            .finish_non_exhaustive()
    }
}

/// A registered callback; dropping it unregisters the callback.
#[must_use = "the callback is unregistered when this is dropped"]
pub struct Listening {
    hub: Weak<Hub>,
    channel: String,
    id: u64,
}

impl std::fmt::Debug for Listening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listening")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            let mut state = hub.state.lock().expect("hub");
            if let Some(list) = state.listeners.get_mut(&self.channel) {
                list.retain(|(id, _)| *id != self.id);
                if list.is_empty() {
                    state.listeners.remove(&self.channel);
                }
            }
        }
    }
}

impl Hub {
    /// A hub for the Redis at `url`; it connects on the first
    /// [`ensure`](Self::ensure).
    pub fn new(url: impl Into<String>, options: ConnectOptions) -> Arc<Self> {
        Arc::new(Self {
            url: url.into(),
            options,
            state: Mutex::new(State::default()),
            opening: tokio::sync::Mutex::new(()),
        })
    }

    /// Calls `on_message` with the payload of every message on `channel`
    /// (from the reader task: keep it short) until the guard is dropped.
    pub fn listen(
        self: &Arc<Self>,
        channel: &str,
        on_message: impl Fn(&str) + Send + Sync + 'static,
    ) -> Listening {
        let mut state = self.state.lock().expect("hub");
        state.next_listener += 1;
        let id = state.next_listener;
        state
            .listeners
            .entry(channel.to_owned())
            .or_default()
            .push((id, Arc::new(on_message)));
        Listening {
            hub: Arc::downgrade(self),
            channel: channel.to_owned(),
            id,
        }
    }

    /// Makes sure the hub is connected and subscribed to `channel`. True
    /// when it has just subscribed (first use, or after a broken
    /// connection): messages may have been missed before, so the caller
    /// reads the state they hint at.
    ///
    /// # Errors
    /// Connecting or subscribing failed (unreachable, refused by an ACL).
    pub async fn ensure(self: &Arc<Self>, channel: &str) -> Result<bool, RedisError> {
        if self.state.lock().expect("hub").check(channel)? {
            return Ok(false);
        }
        // One attempt at a time: whoever waited here finds the channel
        // subscribed, or the attempt failed and not to be made again yet.
        let _opening = self.opening.lock().await;
        let sink = {
            let state = self.state.lock().expect("hub");
            if state.check(channel)? {
                return Ok(false);
            }
            state.sink.clone()
        };
        let attempt = self.subscribe(sink, channel).await;
        let mut state = self.state.lock().expect("hub");
        match attempt {
            Ok(generation) => {
                state.retry_at = None;
                if state.generation == generation {
                    state.subscribed.insert(channel.to_owned());
                }
                Ok(true)
            }
            Err(Failed::Refused(error)) => {
                state.refused = true;
                Err(error)
            }
            Err(Failed::Other(error)) => {
                state.retry_at = Some(Instant::now() + RETRY_AFTER);
                Err(error)
            }
        }
    }

    /// Subscribes to `channel` on `sink`, or on a new connection when there
    /// is none; replies the connection's generation.
    async fn subscribe(
        self: &Arc<Self>,
        sink: Option<PubSubSink>,
        channel: &str,
    ) -> Result<u64, Failed> {
        let (mut sink, generation) = match sink {
            Some(sink) => (sink, self.state.lock().expect("hub").generation),
            None => self.connect().await.map_err(Failed::Other)?,
        };
        match tokio::time::timeout(self.options.command_timeout, sink.subscribe(channel)).await {
            Ok(Ok(())) => Ok(generation),
            Ok(Err(error)) if is_refusal(&error) => Err(Failed::Refused(error)),
            Ok(Err(error)) => Err(Failed::Other(error)),
            Err(_) => Err(Failed::Other(timed_out("subscribing"))),
        }
    }

    /// Remembers that Redis refused this user pub/sub or `wait.lua`: from
    /// now on [`ensure`](Self::ensure) fails at once, and waits poll.
    pub fn refuse(&self) {
        self.state.lock().expect("hub").refused = true;
    }

    async fn connect(self: &Arc<Self>) -> Result<(PubSubSink, u64), RedisError> {
        let client = self.options.client(&self.url)?;
        let pubsub = tokio::time::timeout(self.options.connect_timeout, client.get_async_pubsub())
            .await
            .map_err(|_| timed_out("connecting"))??;
        let (sink, mut stream) = pubsub.split();
        let generation = {
            let mut state = self.state.lock().expect("hub");
            state.generation += 1;
            state.sink = Some(sink.clone());
            state.subscribed.clear();
            state.generation
        };
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(message) = stream.next().await {
                let Some(hub) = hub.upgrade() else { return };
                let callbacks: Vec<Callback> = {
                    let state = hub.state.lock().expect("hub");
                    state
                        .listeners
                        .get(message.get_channel_name())
                        .map(|list| list.iter().map(|(_, c)| Arc::clone(c)).collect())
                        .unwrap_or_default()
                };
                if callbacks.is_empty() {
                    continue;
                }
                let payload = String::from_utf8_lossy(message.get_payload_bytes());
                for callback in callbacks {
                    callback(&payload);
                }
            }
            // The connection is gone: the next `ensure` connects again.
            if let Some(hub) = hub.upgrade() {
                let mut state = hub.state.lock().expect("hub");
                if state.generation == generation {
                    state.sink = None;
                    state.subscribed.clear();
                }
            }
        });
        Ok((sink, generation))
    }
}

/// Whether `error` is Redis refusing a command (an ACL, say) rather than
/// Redis being unreachable or slow.
pub fn is_refusal(error: &RedisError) -> bool {
    !crate::connection::is_unreachable(error)
}

fn timed_out(what: &str) -> RedisError {
    RedisError::from((
        redis::ErrorKind::IoError,
        "pub/sub timed out",
        format!("{what} for pub/sub took too long"),
    ))
}
