//! Purging a queue (spec 1.1, SPEC.md section 20): every job no worker
//! holds yet, waiting or scheduled, with its status key, by `purge.lua`
//! one chunk at a time. Running jobs, dead letters and kept failures stay.

use std::sync::LazyLock;

use ardiq_spec::{scripts, GROUP, PRIORITY_LEVELS};
use redis::Script;

use crate::client::Client;
use crate::entries::entries;
use crate::{Error, Result};

static PURGE: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::PURGE));

/// Jobs removed per `purge.lua` call.
const CHUNK: usize = 500;

impl Client {
    /// Removes every waiting and scheduled job of the queue; how many.
    ///
    /// # Errors
    /// Connection and Redis errors.
    pub async fn purge(&self) -> Result<u64> {
        let keys = &self.inner.keys;
        let mut connection = self.connection();
        let mut removed = 0;
        for priority in 0..PRIORITY_LEVELS {
            let stream = keys.stream(priority);
            // Waiting entries come after the group's last delivered id; an
            // entry fetched between this read and the call is left alone.
            let mut after = String::from("-");
            loop {
                let reply: redis::Value = redis::cmd("XRANGE")
                    .arg(&stream)
                    .arg(&after)
                    .arg("+")
                    .arg("COUNT")
                    .arg(CHUNK)
                    .query_async(&mut connection)
                    .await
                    .map_err(Error::from_redis)?;
                let page = entries(reply).map_err(Error::from_redis)?;
                let Some(last) = page.last() else { break };
                after = format!("({}", last.id);
                let mut call = PURGE.key(&stream);
                call.key(keys.delayed()).key(keys.delayed_jobs()).arg(GROUP);
                for entry in &page {
                    let id = entry.field("id").unwrap_or_default();
                    call.key(job_key(keys, id)).arg(&entry.id).arg(id);
                }
                removed += call
                    .invoke_async::<u64>(&mut connection)
                    .await
                    .map_err(Error::from_redis)?;
                if page.len() < CHUNK {
                    break;
                }
            }
        }
        loop {
            // As bytes: an id written raw as other than UTF-8 is removed
            // too, not an error that stops the purge half done.
            let due: Vec<Vec<u8>> = redis::cmd("ZRANGE")
                .arg(keys.delayed())
                .arg(0)
                .arg(CHUNK - 1)
                .query_async(&mut connection)
                .await
                .map_err(Error::from_redis)?;
            if due.is_empty() {
                break;
            }
            let mut call = PURGE.key(keys.stream(0));
            call.key(keys.delayed()).key(keys.delayed_jobs()).arg(GROUP);
            for id in &due {
                call.key(job_key(keys, id)).arg("").arg(id);
            }
            // Each listed id is removed or was promoted meanwhile (it is
            // waiting now, or running): the next page lists others, so the
            // loop ends when `delayed` is empty. A page promoted whole is
            // no reason to stop before the later ones.
            removed += call
                .invoke_async::<u64>(&mut connection)
                .await
                .map_err(Error::from_redis)?;
        }
        Ok(removed)
    }
}

/// The status key of the job `id`, which Redis may hold as any bytes.
fn job_key(keys: &ardiq_spec::keys::QueueKeys, id: &[u8]) -> Vec<u8> {
    let mut key = keys.job("").into_bytes();
    key.extend_from_slice(id);
    key
}
