//! The journal (SPEC.md section 18): when the worker runs with one, every
//! job event (enqueued, started, retried, completed, failed, aborted,
//! expired, dead) becomes an entry of the queue's capped journal stream.
//! Events are collected in memory and written together, one pipelined
//! `XADD` each, at most every 50 ms. Without a journal this is one branch
//! per event and nothing else.

use std::sync::Arc;
use std::time::Duration;

use ardiq_spec::Job;

use super::now_ms;
use super::Engine;
use crate::conn::Conn;

/// How long events gather before they are written together.
const GATHER: Duration = Duration::from_millis(50);

/// One journal entry waiting to be written.
#[derive(Debug)]
pub(super) struct Event {
    kind: &'static str,
    job_id: String,
    task: String,
    ms: i64,
    attempt: u32,
    error: Option<String>,
}

impl Engine {
    /// Notes a job event, when the run keeps a journal.
    pub(super) fn journal(&self, kind: &'static str, job: &Job, ms: i64, error: Option<String>) {
        if self.config.journal_maxlen == 0 {
            return;
        }
        self.journal_event(Event {
            kind,
            job_id: job.id.clone(),
            task: job.task.clone(),
            ms,
            attempt: job.attempt,
            error,
        });
    }

    /// Notes an event of a job known only by id and task (a dead letter).
    pub(super) fn journal_dead(&self, job_id: &str, task: &str, error: String) {
        if self.config.journal_maxlen == 0 || job_id.is_empty() {
            return;
        }
        self.journal_event(Event {
            kind: "dead",
            job_id: job_id.to_owned(),
            task: task.to_owned(),
            ms: now_ms(),
            attempt: 0,
            error: Some(error),
        });
    }

    fn journal_event(&self, event: Event) {
        let mut pending = self.journal_pending.lock().expect("journal");
        let first = pending.is_empty();
        pending.push(event);
        drop(pending);
        if first {
            self.journal_ready.notify_one();
        }
    }

    /// Writes gathered events until the run stops (then once more).
    pub(super) async fn journal_writer(self: Arc<Self>, mut conn: Conn) {
        if self.config.journal_maxlen == 0 {
            return;
        }
        let mut stop = self.stop.subscribe();
        loop {
            let stopping = tokio::select! {
                () = self.journal_ready.notified() => false,
                _ = stop.changed() => true,
            };
            if !stopping {
                tokio::time::sleep(GATHER).await;
            }
            let events = std::mem::take(&mut *self.journal_pending.lock().expect("journal"));
            if !events.is_empty() {
                let mut pipe = redis::pipe();
                for event in &events {
                    let command = pipe
                        .cmd("XADD")
                        .arg(self.keys.journal())
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(self.config.journal_maxlen)
                        .arg("*")
                        .arg("event")
                        .arg(event.kind)
                        .arg("id")
                        .arg(&event.job_id)
                        .arg("task")
                        .arg(&event.task)
                        .arg("ms")
                        .arg(event.ms)
                        .arg("attempt")
                        .arg(event.attempt)
                        .arg("worker")
                        .arg(&self.config.worker_id);
                    if let Some(error) = &event.error {
                        command.arg("error").arg(error);
                    }
                    command.ignore();
                }
                if let Err(err) = pipe.query_async::<()>(&mut conn).await {
                    self.log(
                        30,
                        format!("writing {} journal events failed: {err}", events.len()),
                    );
                }
            }
            if stopping {
                return;
            }
        }
    }
}
