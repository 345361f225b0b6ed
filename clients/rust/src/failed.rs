//! Kept failures (spec 1.1, SPEC.md section 9.1): jobs that failed after
//! their last retry, with their error and arguments, in the capped,
//! time-ordered stream `ardiq:{q}:failed`; listed, replayed (`replay.lua`,
//! attempts reset) and deleted like dead letters.

use ardiq_spec::Failure as FailureRecord;

use crate::client::Client;
use crate::inspect::decode_failure;
use crate::job::Job;
use crate::Result;

/// One kept failure.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptFailure {
    /// Its entry id in the kept-failures stream.
    pub entry_id: String,
    /// The record: job id, task, the job as it last ran, the error,
    /// attempts, times and worker.
    pub record: FailureRecord,
}

impl Client {
    /// Up to `count` kept failures after entry `after` (`None`: from the
    /// oldest), oldest first.
    ///
    /// # Errors
    /// [`Error::InvalidOption`](crate::Error::InvalidOption) for an `after`
    /// that is no entry id; connection and Redis errors;
    /// [`Error::MalformedRecord`](crate::Error::MalformedRecord) for an
    /// entry that is not a `Failure` record.
    pub async fn failures(&self, count: usize, after: Option<&str>) -> Result<Vec<KeptFailure>> {
        let (entries, _) = self
            .stream_page(&self.inner.keys.failed(), count.max(1), after)
            .await?;
        entries
            .into_iter()
            .map(|(entry_id, fields)| {
                let record = decode_failure(&entry_id, &fields)?;
                Ok(KeptFailure { entry_id, record })
            })
            .collect()
    }

    /// Queues a kept failure's job again with its attempts reset, and
    /// removes it from the store; a handle on it, or `None` when the entry
    /// is gone (replayed or deleted already, trimmed, or expired).
    ///
    /// # Errors
    /// [`Error::MalformedRecord`](crate::Error::MalformedRecord) for an
    /// entry without a replayable job, connection and Redis errors.
    pub async fn replay_failure(&self, entry_id: &str) -> Result<Option<Job>> {
        let stream = self.inner.keys.failed();
        let Some(fields) = self.read_entry(&stream, entry_id).await? else {
            return Ok(None);
        };
        let failure = decode_failure(entry_id, &fields)?;
        self.replay_entry(&stream, entry_id, "kept failure", &failure.job)
            .await
    }

    /// Deletes kept failures by entry id; how many were removed.
    ///
    /// # Errors
    /// Connection and Redis errors.
    pub async fn delete_failures(&self, entry_ids: &[String]) -> Result<u64> {
        self.delete_entries(&self.inner.keys.failed(), entry_ids)
            .await
    }
}
