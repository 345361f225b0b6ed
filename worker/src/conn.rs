//! Connections to Redis: one multiplexed connection for commands and
//! scripts, and a dedicated one for the worker's blocking reads, on a single
//! server or a cluster; with the timeouts, the TLS trust and the one retry
//! after a broken connection of SPEC.md section 14.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, TlsCertificates, Value};

/// A connection to a single Redis or to a cluster.
#[derive(Clone)]
pub enum Conn {
    /// Single server, reconnecting on failure.
    Single(ConnectionManager),
    /// Redis Cluster; commands are routed by key slot.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Single(_) => f.write_str("Conn::Single"),
            Self::Cluster(_) => f.write_str("Conn::Cluster"),
        }
    }
}

/// Whether a call failed because its connection broke (Redis restarted,
/// a proxy dropped it): the connection manager reconnects, and sending the
/// call once more is what SPEC.md section 14 asks. A timeout is not one.
fn is_broken(err: &RedisError) -> bool {
    err.is_connection_dropped()
        || (err.is_io_error() && !err.is_timeout() && !err.is_connection_refusal())
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => Box::pin(async move {
                match c.req_packed_command(cmd).await {
                    Err(err) if is_broken(&err) => c.req_packed_command(cmd).await,
                    done => done,
                }
            }),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => Box::pin(async move {
                match c.req_packed_commands(cmd, offset, count).await {
                    Err(err) if is_broken(&err) => c.req_packed_commands(cmd, offset, count).await,
                    done => done,
                }
            }),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// Default connect timeout (SPEC.md section 14).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default command timeout (SPEC.md section 14).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// `redis://` or `rediss://` URL, with user and password when needed.
    pub url: String,
    /// Treat the URL as one node of a cluster.
    pub cluster: bool,
    /// PEM certificates of the CAs to trust instead of the public roots.
    pub ca_pem: Option<Vec<u8>>,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long to wait for a reply.
    pub command_timeout: Duration,
}

impl Target {
    /// A target with the default timeouts and the public roots.
    pub fn new(url: String, cluster: bool) -> Self {
        Self {
            url,
            cluster,
            ca_pem: None,
            connect_timeout: CONNECT_TIMEOUT,
            command_timeout: COMMAND_TIMEOUT,
        }
    }

    fn certificates(&self) -> Option<TlsCertificates> {
        self.ca_pem.clone().map(|root_cert| TlsCertificates {
            client_tls: None,
            root_cert: Some(root_cert),
        })
    }

    /// Checks the URL (and the CA file, once read) without connecting.
    pub fn check(&self) -> Result<(), RedisError> {
        match self.certificates() {
            Some(certs) => redis::Client::build_with_tls(self.url.as_str(), certs).map(drop),
            None => redis::Client::open(self.url.as_str()).map(drop),
        }
    }

    /// Opens a connection whose replies may take `extra` longer than the
    /// command timeout (the blocking reader's block time).
    pub async fn connect(&self, extra: Duration) -> Result<Conn, RedisError> {
        let response_timeout = self.command_timeout + extra;
        let connected = if self.cluster {
            self.connect_cluster(response_timeout).await
        } else {
            self.connect_single(response_timeout).await
        };
        connected.map_err(name_tls_failure)
    }

    async fn connect_cluster(&self, response_timeout: Duration) -> Result<Conn, RedisError> {
        let mut builder = ClusterClient::builder(vec![self.url.clone()])
            .connection_timeout(self.connect_timeout)
            .response_timeout(response_timeout);
        if let Some(certs) = self.certificates() {
            builder = builder.certs(certs);
        }
        let client = builder.build()?;
        Ok(Conn::Cluster(client.get_async_connection().await?))
    }

    async fn connect_single(&self, response_timeout: Duration) -> Result<Conn, RedisError> {
        let client = match self.certificates() {
            Some(certs) => redis::Client::build_with_tls(self.url.as_str(), certs)?,
            None => redis::Client::open(self.url.as_str())?,
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.connect_timeout)
            .set_response_timeout(response_timeout)
            // One attempt per (re)connect: a broken call is sent once more
            // on the new connection (above), and an unreachable server is
            // reported at once instead of after the manager's backoff.
            .set_number_of_retries(0);
        let mut manager = client.get_connection_manager_with_config(config).await?;
        // The manager connects lazily on some versions: prove the server answers
        // (and accepts the credentials) before reporting success.
        redis::cmd("PING").query_async::<()>(&mut manager).await?;
        Ok(Conn::Single(manager))
    }
}

/// A TLS failure keeps its cause but says that it is one (SPEC.md section 14).
fn name_tls_failure(err: RedisError) -> RedisError {
    if is_tls_failure(&err) && !err.to_string().starts_with("TLS") {
        let kind = if err.is_io_error() {
            std::io::ErrorKind::InvalidData
        } else {
            std::io::ErrorKind::Other
        };
        return RedisError::from(std::io::Error::new(
            kind,
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

/// Whether an error means the server could not be reached at all.
pub fn is_unreachable(err: &RedisError) -> bool {
    err.is_io_error() || err.is_connection_refusal() || err.is_timeout()
}

/// Whether an error means the credentials were refused.
pub fn is_auth_failure(err: &RedisError) -> bool {
    matches!(err.kind(), ErrorKind::AuthenticationFailed)
        || err.to_string().contains("WRONGPASS")
        || err.to_string().contains("NOAUTH")
}
