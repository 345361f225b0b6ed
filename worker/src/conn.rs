//! Connections to Redis: one multiplexed connection for commands and
//! scripts, and a dedicated one for the worker's blocking reads, on a single
//! server or a cluster.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, Value};

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

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
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
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
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

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// `redis://` or `rediss://` URL, with user and password when needed.
    pub url: String,
    /// Treat the URL as one node of a cluster.
    pub cluster: bool,
}

impl Target {
    /// Opens a connection. `response_timeout` of `None` waits forever, which
    /// the blocking reader needs.
    pub async fn connect(&self, response_timeout: Option<Duration>) -> Result<Conn, RedisError> {
        if self.cluster {
            let mut builder = ClusterClient::builder(vec![self.url.clone()])
                .connection_timeout(Duration::from_secs(5));
            if let Some(timeout) = response_timeout {
                builder = builder.response_timeout(timeout);
            } else {
                builder = builder.response_timeout(Duration::from_secs(3600));
            }
            let client = builder.build()?;
            return Ok(Conn::Cluster(client.get_async_connection().await?));
        }
        let client = redis::Client::open(self.url.as_str())?;
        let mut config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(5))
            .set_number_of_retries(3)
            // Retries are for blips: at most a second apart, so an
            // unreachable server is reported within seconds.
            .set_max_delay(1000);
        config = config.set_response_timeout(response_timeout.unwrap_or(Duration::from_secs(3600)));
        let mut manager = client.get_connection_manager_with_config(config).await?;
        // The manager connects lazily on some versions: prove the server answers
        // (and accepts the credentials) before reporting success.
        redis::cmd("PING").query_async::<()>(&mut manager).await?;
        Ok(Conn::Single(manager))
    }
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
