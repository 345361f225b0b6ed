//! Progress reports of running jobs (SPEC.md section 16): a run's last
//! report is kept with the job, and at most once per report interval the
//! reports that changed are stored with `progress.lua`, one call per level,
//! for the entries this worker still owns. However often a task reports,
//! Redis sees one write per job per interval; a run that reports nothing
//! costs nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ardiq_spec::{Progress, State, Status, GROUP, RECORD_VERSION_1_1};
use prost::Message as _;

use super::now_ms;
use super::Engine;
use crate::conn::Conn;

impl Engine {
    /// A running job reports how far it is: kept as its run's last report
    /// and stored within the report interval. Reports of runs no longer
    /// running here are dropped.
    pub fn report_progress(&self, handle: u64, fraction: f64, message: String) {
        let mut local = self.local.lock().expect("local");
        let Some(held) = local.held.get_mut(&handle) else {
            return;
        };
        if !held.running {
            return;
        }
        held.progress = Some(Progress {
            fraction,
            message,
            updated_ms: now_ms(),
        });
        let first = local.progress_dirty.is_empty();
        local.progress_dirty.insert(handle);
        drop(local);
        if first {
            self.progress_ready.notify_one();
        }
    }

    /// Stores changed progress reports, at most once per report interval.
    pub(super) async fn progress_reporter(self: Arc<Self>, mut conn: Conn) {
        let mut stop = self.stop.subscribe();
        let interval = Duration::from_millis(self.config.progress_interval_ms);
        loop {
            tokio::select! {
                () = self.progress_ready.notified() => {}
                _ = stop.changed() => return,
            }
            // Reports that come meanwhile are stored together.
            if self.sleep_or_stop(interval).await {
                return;
            }
            for (priority, items) in self.changed_progress() {
                let mut call = self.scripts.progress.key(self.keys.stream(priority));
                for (job_id, _, _) in &items {
                    call.key(self.keys.job(job_id));
                }
                call.arg(GROUP).arg(&self.config.worker_id);
                for (_, entry_id, record) in &items {
                    call.arg(entry_id).arg(record.as_slice());
                }
                if let Err(err) = call.invoke_async::<i64>(&mut conn).await {
                    self.log(
                        30,
                        format!("storing the progress of {} jobs failed: {err}", items.len()),
                    );
                }
            }
        }
    }

    /// The RUNNING records of the reports that changed, by level:
    /// `(job id, entry id, record)`.
    fn changed_progress(&self) -> BTreeMap<u32, Vec<(String, String, Vec<u8>)>> {
        let mut local = self.local.lock().expect("local");
        let dirty = std::mem::take(&mut local.progress_dirty);
        let mut by_level: BTreeMap<u32, Vec<(String, String, Vec<u8>)>> = BTreeMap::new();
        for handle in dirty {
            let Some(held) = local.held.get(&handle) else {
                continue;
            };
            if !held.running || held.progress.is_none() {
                continue;
            }
            let record = Status {
                spec_version: RECORD_VERSION_1_1.to_owned(),
                state: State::Running as i32,
                attempts: held.job.attempt.saturating_add(1),
                enqueued_ms: held.job.enqueued_ms,
                started_ms: held.started_ms,
                worker_id: self.config.worker_id.clone(),
                task: held.job.task.clone(),
                progress: held.progress.clone(),
                ..Status::default()
            };
            by_level.entry(held.priority).or_default().push((
                held.job.id.clone(),
                held.entry_id.clone(),
                record.encode_to_vec(),
            ));
        }
        by_level
    }
}
