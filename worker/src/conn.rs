//! Where the core connects: a URL and the connection options. The
//! connection itself (timeouts, TLS trust, one retry after a break) is the
//! Rust client's, shared with every Rust producer.

use std::time::Duration;

use ardiq_client::connection::ConnectOptions;
pub use ardiq_client::connection::{is_auth_failure, is_unreachable, Connection as Conn};
use redis::RedisError;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// `redis://` or `rediss://` URL, with user and password when needed.
    pub url: String,
    /// Timeouts, trusted CAs, and whether the URL is a cluster node.
    pub options: ConnectOptions,
}

impl Target {
    /// Checks the URL and the CA certificates without connecting.
    pub fn check(&self) -> Result<(), RedisError> {
        self.options.check(&self.url)
    }

    /// Opens a connection whose replies may take `extra` longer than the
    /// command timeout (the blocking reader's block time).
    pub async fn connect(&self, extra: Duration) -> Result<Conn, RedisError> {
        Conn::open(&self.url, &self.options, extra).await
    }
}

/// Whether an error says Redis is unreachable or busy for now (so the same
/// call may succeed later), rather than that it refuses this call: what
/// [`is_unreachable`] says (`LOADING` included), or a server that answers
/// but cannot take the call yet.
pub fn is_transient(err: &RedisError) -> bool {
    is_unreachable(err)
        || matches!(
            err.code(),
            Some(
                "BUSY"
                    | "OOM"
                    | "READONLY"
                    | "MASTERDOWN"
                    | "CLUSTERDOWN"
                    | "TRYAGAIN"
                    | "MOVED"
                    | "ASK"
                    | "NOREPLICAS"
            )
        )
}
