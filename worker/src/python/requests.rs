//! The requests of `Core`: each runs on the runtime with the app's client
//! (connected on first use, shared by every queue), and its reply goes to
//! Python through the bridge or, for the blocking twins, straight to the
//! waiting caller.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use ardiq_client::Client;
use futures::FutureExt;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::core::Core;
use super::items::{item_from, queue_of};
use super::runtime::{linger, runtime};
use super::types;
use crate::bridge::ReplyValue;
use crate::engine;
use crate::error::CoreError;

/// The future a request handler returns.
pub type BoxedReply =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<ReplyValue, CoreError>> + Send>>;

impl Core {
    /// Runs `work` like `spawn_request` and waits for its reply with the GIL
    /// released: the blocking twin for sync callers (never from the thread
    /// of a running asyncio loop, which it would stall).
    pub(super) fn request_blocking<F>(&self, py: Python<'_>, work: F) -> PyResult<Py<PyAny>>
    where
        F: FnOnce(Client) -> BoxedReply + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        self.spawn_work(py, work, move |reply| {
            let _ = tx.send(reply);
        });
        let reply = py
            .detach(move || rx.recv())
            .map_err(|_| CoreError::Internal("the request ended without a reply".into()))?;
        reply_to_python(py, reply?)
    }

    fn spawn_work<F, D>(&self, py: Python<'_>, work: F, deliver: D)
    where
        F: FnOnce(Client) -> BoxedReply + Send + 'static,
        D: FnOnce(Result<ReplyValue, CoreError>) + Send + 'static,
    {
        let cell = Arc::clone(&self.client);
        let target = self.target.clone();
        let queue = self.queue.clone();
        runtime(py).spawn(async move {
            let handled = AssertUnwindSafe(async {
                let client = cell
                    .get_or_try_init(|| {
                        Client::builder(target.url.as_str())
                            .queue(queue)
                            .connect_options(target.options.clone())
                            .connect()
                    })
                    .await?;
                work(client.clone()).await
            })
            .catch_unwind()
            .await;
            // A panic below (a bug, or a library's) fails this request
            // instead of leaving its caller waiting forever.
            let reply = handled.unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(ToString::to_string)
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(CoreError::Internal(format!("request failed: {what}")))
            });
            deliver(reply);
            linger().await;
        });
    }

    /// Runs `work` on the runtime with the client (connected on first use)
    /// and hands its reply to Python as the answer to `request`.
    pub(super) fn spawn_request<F>(&self, py: Python<'_>, request: u64, work: F)
    where
        F: FnOnce(Client) -> BoxedReply + Send + 'static,
    {
        let bridge = Arc::clone(&self.bridge);
        self.spawn_work(py, work, move |reply| bridge.reply(request, reply));
    }

    /// Checks every item and groups the jobs by queue, in first-seen order;
    /// returns their ids and the work that sends them.
    #[allow(clippy::type_complexity)]
    pub(super) fn enqueue_work(
        &self,
        items: &[Bound<'_, PyTuple>],
    ) -> PyResult<(
        Vec<String>,
        impl FnOnce(Client) -> BoxedReply + Send + 'static,
    )> {
        let now = engine::now_ms();
        let mut groups: Vec<(Option<String>, Vec<ardiq_spec::Job>, Vec<usize>)> = Vec::new();
        let mut ids = Vec::with_capacity(items.len());
        for (place, tuple) in items.iter().enumerate() {
            let queue = queue_of(tuple)?.filter(|q| *q != self.queue);
            let job = item_from(tuple)?.check(now).map_err(CoreError::from)?;
            ids.push(job.id.clone());
            match groups.iter_mut().find(|(q, _, _)| *q == queue) {
                Some((_, jobs, places)) => {
                    jobs.push(job);
                    places.push(place);
                }
                None => groups.push((queue, vec![job], vec![place])),
            }
        }
        let total = ids.len();
        let work = move |client: Client| -> BoxedReply {
            Box::pin(async move {
                if let [(queue, _, _)] = groups.as_slice() {
                    let client = client_for(&client, queue.as_deref())?;
                    let jobs = groups.into_iter().next().expect("one group").1;
                    return Ok(ReplyValue::Enqueued(client.enqueue_jobs(jobs).await?));
                }
                let mut outcomes = vec![None; total];
                for (queue, jobs, places) in groups {
                    let sent = client_for(&client, queue.as_deref())?
                        .enqueue_jobs(jobs)
                        .await?;
                    for (place, outcome) in places.into_iter().zip(sent) {
                        outcomes[place] = Some(outcome);
                    }
                }
                Ok(ReplyValue::Enqueued(
                    outcomes
                        .into_iter()
                        .map(|o| o.expect("an outcome per job"))
                        .collect(),
                ))
            })
        };
        Ok((ids, work))
    }
}

pub(super) fn status_work(client: Client, job_id: String, queue: Option<String>) -> BoxedReply {
    Box::pin(async move {
        let client = client_for(&client, queue.as_deref())?;
        Ok(ReplyValue::Status(Box::new(
            client.job(job_id).info().await?,
        )))
    })
}

/// Waits up to `timeout` for the job to end (woken by its worker, SPEC.md
/// section 15); replies its info, which is not terminal when time ran out,
/// and `not_found` as soon as the job has no status key.
pub(super) fn wait_work(
    client: Client,
    job_id: String,
    queue: Option<String>,
    timeout: std::time::Duration,
) -> BoxedReply {
    Box::pin(async move {
        let client = client_for(&client, queue.as_deref())?;
        let job = client.job(job_id);
        match job.wait(timeout).await {
            Ok(info) => Ok(ReplyValue::Status(Box::new(info))),
            Err(ardiq_client::Error::Timeout) => {
                Ok(ReplyValue::Status(Box::new(job.info().await?)))
            }
            Err(ardiq_client::Error::JobNotFound) => {
                Ok(ReplyValue::Status(Box::new(ardiq_client::JobInfo {
                    status: ardiq_client::JobStatus::NotFound,
                    record: None,
                })))
            }
            Err(err) => Err(err.into()),
        }
    })
}

/// One `XREAD` of a journal on the core's journal connection (opened on
/// first use; its reads block, so no other request shares it). `after`
/// `$` is first made the journal's last entry id (`0-0` when it has none),
/// and the reply names it when no entry came: Redis takes `$` anew at each
/// read, so a caller reading again with `$` would miss the entries added
/// between one read's end and the next.
pub(super) fn journal_work(
    reader: Arc<tokio::sync::Mutex<Option<crate::conn::Conn>>>,
    target: crate::conn::Target,
    key: String,
    after: String,
    count: usize,
    block_ms: u64,
) -> BoxedReply {
    Box::pin(async move {
        let mut reader = reader.lock().await;
        if reader.is_none() {
            *reader = Some(target.connect(std::time::Duration::from_secs(60)).await?);
        }
        let conn = reader.as_mut().expect("connected above");
        let after = if after == "$" {
            let last: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
                .arg(&key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(conn)
                .await?;
            last.ids
                .into_iter()
                .next()
                .map_or_else(|| "0-0".to_owned(), |entry| entry.id)
        } else {
            after
        };
        let reply: Option<redis::streams::StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(block_ms)
            .arg("STREAMS")
            .arg(&key)
            .arg(&after)
            .query_async(conn)
            .await?;
        let entries: Vec<(String, Vec<(String, String)>)> = reply
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|stream| stream.ids)
            .map(|entry| {
                let fields = entry
                    .map
                    .iter()
                    .filter_map(|(name, value)| {
                        redis::from_redis_value::<String>(value)
                            .ok()
                            .map(|text| (name.clone(), text))
                    })
                    .collect();
                (entry.id, fields)
            })
            .collect();
        let next = entries.last().map_or(after, |(id, _)| id.clone());
        Ok(ReplyValue::Journal(next, entries))
    })
}

pub(super) fn abort_work(client: Client, job_id: String, queue: Option<String>) -> BoxedReply {
    Box::pin(async move {
        let client = client_for(&client, queue.as_deref())?;
        Ok(ReplyValue::Abort(client.job(job_id).abort().await?))
    })
}

pub(super) fn queue_info_work(client: Client, queue: Option<String>) -> BoxedReply {
    Box::pin(async move {
        let client = client_for(&client, queue.as_deref())?;
        Ok(ReplyValue::QueueInfo(Box::new(client.queue_info().await?)))
    })
}

/// The client of `queue` (the app's own when `None`), on the same connection.
pub(super) fn client_for(client: &Client, queue: Option<&str>) -> Result<Client, CoreError> {
    match queue {
        Some(queue) if queue != client.queue() => Ok(client.with_queue(queue)?),
        _ => Ok(client.clone()),
    }
}

pub(super) fn reply_to_python(py: Python<'_>, reply: ReplyValue) -> PyResult<Py<PyAny>> {
    Ok(match reply {
        ReplyValue::Enqueued(outcomes) => {
            let names: Vec<&str> = outcomes.iter().map(|o| o.as_str()).collect();
            PyList::new(py, names)?.into_any().unbind()
        }
        ReplyValue::Status(info) => types::job_info(py, *info)?,
        ReplyValue::Abort(outcome) => outcome.as_str().into_pyobject(py)?.into_any().unbind(),
        ReplyValue::DeadLetters(letters) => {
            let list = PyList::empty(py);
            for letter in letters {
                list.append(types::dead_letter(py, letter)?)?;
            }
            list.into_any().unbind()
        }
        ReplyValue::Schedules(states) => {
            let list = PyList::empty(py);
            for state in states {
                list.append(types::schedule_state(py, state)?)?;
            }
            list.into_any().unbind()
        }
        ReplyValue::Replayed(id) => id.into_pyobject(py)?.into_any().unbind(),
        ReplyValue::Count(n) => n.into_pyobject(py)?.into_any().unbind(),
        ReplyValue::QueueInfo(info) => super::inspect::queue_info(py, *info)?,
        ReplyValue::Workers(workers) => super::inspect::workers(py, workers)?,
        ReplyValue::Jobs(page, state) => super::inspect::job_page(py, page, state)?,
        ReplyValue::Details(details) => super::inspect::job_details(py, *details)?,
        ReplyValue::Names(names) => PyList::new(py, names)?.into_any().unbind(),
        ReplyValue::Failures(failures) => super::inspect::failures(py, failures)?,
        ReplyValue::Journal(next, entries) => {
            (next, entries).into_pyobject(py)?.into_any().unbind()
        }
        ReplyValue::Unit => py.None(),
    })
}
