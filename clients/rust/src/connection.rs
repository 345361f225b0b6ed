//! The Redis connection behind a client: one multiplexed connection that
//! reconnects by itself for a single Redis, or a cluster connection when the
//! server at the URL runs in cluster mode. Both pipeline concurrent requests
//! over their sockets, so clones are cheap and share the sockets.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::Error;

/// A connection to a single Redis or to a Redis Cluster.
#[derive(Clone)]
pub(crate) enum Connection {
    Single(ConnectionManager),
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

/// How hard to try when connecting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectOptions {
    pub connect_timeout: Duration,
    pub response_timeout: Option<Duration>,
    pub connect_retries: usize,
}

impl Connection {
    /// Connects to the Redis at `url`, switching to a cluster connection when
    /// that Redis is a cluster node (so the same URL works for both).
    pub(crate) async fn open(url: &str, options: ConnectOptions) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(Error::InvalidUrl)?;
        let mut config = ConnectionManagerConfig::new()
            .set_connection_timeout(options.connect_timeout)
            .set_number_of_retries(options.connect_retries);
        if let Some(timeout) = options.response_timeout {
            config = config.set_response_timeout(timeout);
        }
        let mut manager = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(Error::from_redis)?;
        let info: String = redis::cmd("INFO")
            .arg("cluster")
            .query_async(&mut manager)
            .await
            .map_err(Error::from_redis)?;
        if !info.lines().any(|line| line.trim() == "cluster_enabled:1") {
            return Ok(Self::Single(manager));
        }
        let mut builder = redis::cluster::ClusterClient::builder(vec![url])
            .connection_timeout(options.connect_timeout);
        if let Some(timeout) = options.response_timeout {
            builder = builder.response_timeout(timeout);
        }
        let cluster = builder.build().map_err(Error::InvalidUrl)?;
        let connection = cluster
            .get_async_connection()
            .await
            .map_err(Error::from_redis)?;
        Ok(Self::Cluster(connection))
    }

    /// Whether this is a cluster connection.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(cmd, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}
