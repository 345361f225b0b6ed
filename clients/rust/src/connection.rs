//! The Redis connection of every Rust `ArdiQ` process, this client's and the
//! worker's: one multiplexed connection that reconnects by itself for a
//! single Redis, or a cluster connection; pipelining concurrent requests over
//! its sockets, so clones are cheap and share them. It applies SPEC.md
//! section 14: connect and command timeouts, trust in a private CA, a call
//! sent once more after its connection broke, and TLS failures named as such.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, TlsCertificates, Value};

/// Default connect timeout (SPEC.md section 14).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default command timeout (SPEC.md section 14).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to a single Redis or to a Redis Cluster.
#[derive(Clone)]
pub enum Connection {
    /// A single server; reconnects after a failure.
    Single(ConnectionManager),
    /// A cluster; commands are routed by key slot.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Single(_) => "Connection::Single",
            Self::Cluster(_) => "Connection::Cluster",
        })
    }
}

/// How to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// How long any one command may wait for its reply.
    pub command_timeout: Duration,
    /// PEM certificates of the CAs to trust instead of the public roots.
    pub ca_pem: Option<Vec<u8>>,
    /// `Some(true)`: the URL is a cluster node; `Some(false)`: a single
    /// Redis; `None`: ask the server (`INFO cluster`).
    pub cluster: Option<bool>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            connect_timeout: CONNECT_TIMEOUT,
            command_timeout: COMMAND_TIMEOUT,
            ca_pem: None,
            cluster: None,
        }
    }
}

impl ConnectOptions {
    fn certificates(&self) -> Option<TlsCertificates> {
        self.ca_pem.clone().map(|root_cert| TlsCertificates {
            client_tls: None,
            root_cert: Some(root_cert),
        })
    }

    pub(crate) fn client(&self, url: &str) -> Result<redis::Client, RedisError> {
        match self.certificates() {
            Some(certs) => redis::Client::build_with_tls(url, certs),
            None => redis::Client::open(url),
        }
    }

    /// Checks the URL (and the CA certificates) without connecting.
    pub fn check(&self, url: &str) -> Result<(), RedisError> {
        self.client(url).map(drop)
    }
}

impl Connection {
    /// Connects to the Redis at `url`. Replies may take `extra` longer than
    /// the command timeout (a worker's blocking reads wait their block time).
    pub async fn open(
        url: &str,
        options: &ConnectOptions,
        extra: Duration,
    ) -> Result<Self, RedisError> {
        Self::connect(url, options, options.command_timeout + extra)
            .await
            .map_err(name_tls_failure)
    }

    async fn connect(
        url: &str,
        options: &ConnectOptions,
        response_timeout: Duration,
    ) -> Result<Self, RedisError> {
        if options.cluster == Some(true) {
            return Self::cluster(url, options, response_timeout).await;
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(options.connect_timeout)
            .set_response_timeout(response_timeout)
            // One attempt per (re)connect: a broken call is sent once more
            // on the new connection (below), and an unreachable server is
            // reported at once instead of after the manager's backoff.
            .set_number_of_retries(0);
        let mut manager = options
            .client(url)?
            .get_connection_manager_with_config(config)
            .await?;
        if options.cluster.is_none() {
            let info: String = redis::cmd("INFO")
                .arg("cluster")
                .query_async(&mut manager)
                .await?;
            if info.lines().any(|line| line.trim() == "cluster_enabled:1") {
                return Self::cluster(url, options, response_timeout).await;
            }
        } else {
            // The manager may connect lazily: prove the server answers (and
            // takes the credentials) before reporting success.
            redis::cmd("PING").query_async::<()>(&mut manager).await?;
        }
        Ok(Self::Single(manager))
    }

    async fn cluster(
        url: &str,
        options: &ConnectOptions,
        response_timeout: Duration,
    ) -> Result<Self, RedisError> {
        let mut builder = ClusterClient::builder(vec![url])
            .connection_timeout(options.connect_timeout)
            .response_timeout(response_timeout);
        if let Some(certs) = options.certificates() {
            builder = builder.certs(certs);
        }
        Ok(Self::Cluster(
            builder.build()?.get_async_connection().await?,
        ))
    }

    /// Whether this is a cluster connection.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// Every key matching `pattern`, by `SCAN` 1,000 keys a step; on a
    /// cluster, on every master (read from `CLUSTER SLOTS`). A full scan
    /// of the key space: for operators' rare calls only.
    pub async fn scan_keys(&self, pattern: &str) -> Result<Vec<Vec<u8>>, RedisError> {
        use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
        let scan = |cursor: u64| {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000);
            cmd
        };
        let mut found = Vec::new();
        match self {
            Self::Single(connection) => {
                let mut connection = connection.clone();
                let mut cursor = 0;
                loop {
                    let (next, keys): (u64, Vec<Vec<u8>>) =
                        scan(cursor).query_async(&mut connection).await?;
                    found.extend(keys);
                    if next == 0 {
                        return Ok(found);
                    }
                    cursor = next;
                }
            }
            Self::Cluster(connection) => {
                let mut connection = connection.clone();
                let slots: Vec<Value> = redis::cmd("CLUSTER")
                    .arg("SLOTS")
                    .query_async(&mut connection)
                    .await?;
                let mut masters: Vec<(String, u16)> = Vec::new();
                for range in &slots {
                    let Value::Array(parts) = range else { continue };
                    let Some(Value::Array(node)) = parts.get(2) else {
                        continue;
                    };
                    if let [host, port, ..] = node.as_slice() {
                        let master = (
                            redis::from_redis_value::<String>(host)?,
                            redis::from_redis_value::<u16>(port)?,
                        );
                        if !masters.contains(&master) {
                            masters.push(master);
                        }
                    }
                }
                for (host, port) in masters {
                    let mut cursor = 0;
                    loop {
                        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port,
                        });
                        let reply = connection.route_command(&scan(cursor), routing).await?;
                        let (next, keys): (u64, Vec<Vec<u8>>) = redis::from_redis_value(&reply)?;
                        found.extend(keys);
                        if next == 0 {
                            break;
                        }
                        cursor = next;
                    }
                }
                Ok(found)
            }
        }
    }
}

/// Commands this process sent that failed (Redis unreachable, timed out,
/// or answering an error; a `NOSCRIPT` that the script loader handles is
/// not counted), and calls sent again on a new connection after theirs
/// broke: for the worker's metrics.
static ERRORS: AtomicU64 = AtomicU64::new(0);
static RECONNECTS: AtomicU64 = AtomicU64::new(0);

/// `(failed commands, reconnects)` of this process so far.
pub fn error_counts() -> (u64, u64) {
    (
        ERRORS.load(Ordering::Relaxed),
        RECONNECTS.load(Ordering::Relaxed),
    )
}

fn counted<T>(result: Result<T, RedisError>) -> Result<T, RedisError> {
    if let Err(err) = &result {
        if err.kind() != ErrorKind::NoScriptError {
            ERRORS.fetch_add(1, Ordering::Relaxed);
        }
    }
    result
}

/// Whether a call failed because its connection broke (Redis restarted, a
/// proxy dropped it): sending it once more on the new connection is what
/// SPEC.md section 14 asks. A timeout is not one: that call may still run.
fn is_broken(err: &RedisError) -> bool {
    err.is_connection_dropped()
        || (err.is_io_error() && !err.is_timeout() && !err.is_connection_refusal())
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => Box::pin(async move {
                counted(match connection.req_packed_command(cmd).await {
                    Err(err) if is_broken(&err) => {
                        RECONNECTS.fetch_add(1, Ordering::Relaxed);
                        connection.req_packed_command(cmd).await
                    }
                    done => done,
                })
            }),
            Self::Cluster(connection) => {
                Box::pin(async move { counted(connection.req_packed_command(cmd).await) })
            }
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => Box::pin(async move {
                counted(
                    match connection.req_packed_commands(cmd, offset, count).await {
                        Err(err) if is_broken(&err) => {
                            RECONNECTS.fetch_add(1, Ordering::Relaxed);
                            connection.req_packed_commands(cmd, offset, count).await
                        }
                        done => done,
                    },
                )
            }),
            Self::Cluster(connection) => Box::pin(async move {
                counted(connection.req_packed_commands(cmd, offset, count).await)
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

/// A TLS failure keeps its cause but says that it is one.
fn name_tls_failure(err: RedisError) -> RedisError {
    if is_tls_failure(&err) && !err.to_string().starts_with("TLS") {
        return RedisError::from(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("TLS handshake failed: {err}"),
        ));
    }
    err
}

/// Whether an error comes from the TLS layer (a certificate that does not
/// verify, a handshake the server refused).
pub fn is_tls_failure(err: &RedisError) -> bool {
    let text = err.to_string().to_lowercase();
    [
        "certificate",
        "tls",
        "handshake",
        "unknownissuer",
        "peer sent",
    ]
    .iter()
    .any(|word| text.contains(word))
}

/// Whether an error means the server could not be reached, stopped
/// answering, or does not serve yet: `LOADING`, a server still loading its
/// data after a restart (SPEC.md section 14).
pub fn is_unreachable(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.is_timeout()
        || err.code() == Some("LOADING")
}

/// Whether an error means the credentials were refused.
pub fn is_auth_failure(err: &RedisError) -> bool {
    matches!(err.kind(), ErrorKind::AuthenticationFailed)
        || matches!(err.code(), Some("WRONGPASS" | "NOAUTH"))
        || err.to_string().contains("WRONGPASS")
        || err.to_string().contains("NOAUTH")
}
