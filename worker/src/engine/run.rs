//! A worker run over one or more queues: one `Engine` per queue, all sharing
//! the run's concurrency. Free slots go to the queues that have jobs
//! waiting, by smooth weighted round robin on their weights, so under
//! contention each queue gets its share and an idle queue's share goes to
//! the others; within a queue, priorities order the jobs as before. The run
//! ends when every engine has ended.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::mpsc;

use ardiq_client::pubsub::Hub;

use super::{Engine, WorkerConfig};
use crate::bridge::{Bridge, StartJob};
use crate::conn::Conn;

/// Handles carry the queue's index in their low bits, so a report finds its
/// engine without a table.
const INDEX_BITS: u32 = 8;
/// Most queues one run consumes.
pub const MAX_QUEUES: usize = 1 << INDEX_BITS;

/// One worker run.
pub struct Run {
    engines: Vec<Arc<Engine>>,
    /// The engines' write queues, until `spawn` hands them to their finishers.
    receivers: Mutex<Vec<mpsc::UnboundedReceiver<super::Action>>>,
    /// Smooth weighted round robin credits, one per queue, under the lock
    /// that also serializes dispatching.
    credits: Mutex<Vec<i64>>,
    weights: Vec<i64>,
    concurrency: usize,
    bridge: Arc<Bridge>,
    ended: AtomicUsize,
    /// The evicting `(maxmemory_policy, maxmemory)` settings last warned of.
    evicting: Mutex<BTreeSet<(String, String)>>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("queues", &self.engines.len())
            .finish_non_exhaustive()
    }
}

impl Run {
    /// A run with one engine per `(queue, weight)`, running nothing yet.
    pub fn new(config: &WorkerConfig, queues: &[(String, u32)], bridge: &Arc<Bridge>) -> Arc<Self> {
        assert!(
            !queues.is_empty() && queues.len() <= MAX_QUEUES,
            "1 to 256 queues"
        );
        let names: Vec<String> = queues.iter().map(|(q, _)| q.clone()).collect();
        let mut receivers = Vec::new();
        let run = Arc::new_cyclic(|run: &Weak<Self>| {
            let engines = queues
                .iter()
                .enumerate()
                .map(|(index, (queue, _))| {
                    let (engine, receiver) = Engine::new(
                        config.clone(),
                        queue,
                        &names,
                        index,
                        run.clone(),
                        Arc::clone(bridge),
                    );
                    receivers.push(receiver);
                    engine
                })
                .collect();
            Self {
                engines,
                receivers: Mutex::new(Vec::new()),
                credits: Mutex::new(vec![0; queues.len()]),
                weights: queues.iter().map(|(_, w)| i64::from(*w)).collect(),
                concurrency: config.concurrency,
                bridge: Arc::clone(bridge),
                ended: AtomicUsize::new(0),
                evicting: Mutex::new(BTreeSet::new()),
            }
        });
        *run.receivers.lock().expect("receivers") = receivers;
        run
    }

    /// Creates the consumer groups of every queue (a group that exists is
    /// left as it is): before `spawn`, and again when it failed.
    pub async fn create_groups(&self, conn: &mut Conn) -> Result<(), redis::RedisError> {
        for engine in &self.engines {
            super::fetch::create_groups(&engine.keys, conn).await?;
        }
        Ok(())
    }

    /// Warns when Redis may evict the queues' keys under memory pressure: with
    /// a `maxmemory-policy` other than `noeviction`, Redis at its `maxmemory`
    /// drops keys with a TTL (`volatile-*`: results, kept failures, worker
    /// heartbeats) or any key (`allkeys-*`: queued jobs, held entries and
    /// schedules too) without a trace. Read from `INFO memory` (every
    /// master of a cluster) at start and whenever Redis comes back without
    /// the queues' data (a new server may bring another policy); settings
    /// already warned of are not repeated. A Redis that refuses it (an ACL
    /// without `+info`) gets no warning.
    pub async fn warn_if_redis_may_evict(&self, conn: &mut Conn) {
        let Ok(info) = redis::cmd("INFO")
            .arg("memory")
            .query_async::<redis::Value>(conn)
            .await
        else {
            return;
        };
        let evicting: BTreeSet<(String, String)> = eviction_settings(&info)
            .into_iter()
            .filter(|(policy, _)| policy != "noeviction")
            .collect();
        let new: Vec<(String, String)> = {
            let mut warned = self.evicting.lock().expect("evicting");
            let new = evicting.difference(&warned).cloned().collect();
            *warned = evicting;
            new
        };
        for (policy, maxmemory) in new {
            let limit = if maxmemory == "0" {
                "no maxmemory is set yet".to_owned()
            } else {
                format!("maxmemory is {maxmemory} bytes")
            };
            self.bridge.log(
                30,
                format!(
                    "Redis's maxmemory-policy is {policy} ({limit}): under memory pressure it may \
                     evict {} without a trace; set it to noeviction",
                    if policy.starts_with("allkeys") {
                        "queued jobs, held entries and results"
                    } else {
                        "results, kept failures and worker heartbeats"
                    }
                ),
            );
        }
    }

    /// Starts every engine (its consumer groups made by `create_groups`):
    /// spawns its tasks on the current tokio runtime. Reports may arrive
    /// from the first engine on, so the run must be reachable before this
    /// is called.
    pub fn spawn(&self, conn: &Conn, readers: Vec<Conn>, hub: &Arc<Hub>) {
        assert_eq!(
            readers.len(),
            self.engines.len(),
            "one blocking reader per queue"
        );
        let receivers = std::mem::take(&mut *self.receivers.lock().expect("receivers"));
        for ((engine, receiver), reader) in self.engines.iter().zip(receivers).zip(readers) {
            Arc::clone(engine).spawn(conn.clone(), reader, receiver, Arc::clone(hub));
        }
    }

    /// The handle for a fetched job of queue `index`, unique in the run.
    pub(super) fn handle(index: usize, counter: u64) -> u64 {
        (counter << INDEX_BITS) | index as u64
    }

    fn engine_of(&self, handle: u64) -> Option<&Arc<Engine>> {
        self.engines
            .get((handle & ((1 << INDEX_BITS) - 1)) as usize)
    }

    /// Starts waiting jobs while the run has free slots, taking them from
    /// the queues by weight.
    pub(super) fn dispatch(&self) {
        let mut start: Vec<StartJob> = Vec::new();
        {
            let mut credits = self.credits.lock().expect("credits");
            let mut running: usize = self.engines.iter().map(|e| e.running()).sum();
            let mut waiting: Vec<bool> = self.engines.iter().map(|e| e.has_waiting()).collect();
            while running < self.concurrency {
                // Smooth weighted round robin over the queues with jobs waiting.
                let total: i64 = waiting
                    .iter()
                    .zip(&self.weights)
                    .filter(|(w, _)| **w)
                    .map(|(_, weight)| weight)
                    .sum();
                if total == 0 {
                    break;
                }
                let mut best = None;
                for (index, weight) in self.weights.iter().enumerate() {
                    if waiting[index] {
                        credits[index] += weight;
                        if best.is_none_or(|b: usize| credits[index] > credits[b]) {
                            best = Some(index);
                        }
                    }
                }
                let best = best.expect("a queue with jobs waiting");
                credits[best] -= total;
                match self.engines[best].start_next() {
                    Some(job) => {
                        start.push(job);
                        running += 1;
                    }
                    None => waiting[best] = false,
                }
            }
        }
        self.bridge.start(start);
    }

    /// Python reports finished runs.
    pub fn report(&self, outcomes: Vec<(u64, super::Outcome)>) {
        let mut by_engine: Vec<Vec<(u64, super::Outcome)>> =
            (0..self.engines.len()).map(|_| Vec::new()).collect();
        for (handle, outcome) in outcomes {
            if let Some(engine) = self.engine_of(handle) {
                by_engine[engine.index].push((handle, outcome));
            }
        }
        // Each engine's report frees its slots and dispatches again.
        for (engine, outcomes) in self.engines.iter().zip(by_engine) {
            if !outcomes.is_empty() {
                engine.report(outcomes);
            }
        }
    }

    /// A running job reports its progress (SPEC.md section 16).
    pub fn report_progress(&self, handle: u64, fraction: f64, message: String) {
        if let Some(engine) = self.engine_of(handle) {
            engine.report_progress(handle, fraction, message);
        }
    }

    /// Stops fetching and hands back what has not started; running jobs go on.
    pub fn request_stop(&self) {
        for engine in &self.engines {
            engine.request_stop();
        }
    }

    /// Hands back every job not started yet.
    pub fn abandon_waiting(&self) {
        for engine in &self.engines {
            engine.abandon_waiting();
        }
    }

    /// An engine has ended; the run ends with the last.
    pub(super) fn engine_ended(&self) {
        if self.ended.fetch_add(1, Ordering::AcqRel) + 1 == self.engines.len() {
            self.bridge.worker_exit(None);
        }
    }

    /// `(held, running, completed, failed)` over every queue.
    pub fn counters(&self) -> (usize, usize, u64, u64) {
        self.engines
            .iter()
            .map(|e| e.counters())
            .fold((0, 0, 0, 0), |(h, r, c, f), (eh, er, ec, ef)| {
                (h + eh, r + er, c + ec, f + ef)
            })
    }

    /// Each queue's metrics, when the run counts them: `(queue, tasks,
    /// dead letters as (task, reason, count), jobs running now)`.
    #[allow(clippy::type_complexity)]
    pub fn metrics(
        &self,
    ) -> Vec<(
        String,
        Vec<super::metrics::TaskSnapshot>,
        Vec<(String, String, u64)>,
        usize,
    )> {
        self.engines
            .iter()
            .filter_map(|engine| {
                let metrics = engine.metrics()?;
                Some((
                    engine.queue().to_owned(),
                    metrics.tasks(),
                    metrics.dead_letters(),
                    engine.running(),
                ))
            })
            .collect()
    }

    /// `(started, completed, failed, retried)` runs over every queue, for
    /// the summary at the end.
    pub fn totals(&self) -> (u64, u64, u64, u64) {
        let (_, _, completed, failed) = self.counters();
        let (started, retried) = self
            .engines
            .iter()
            .map(|e| e.run_totals())
            .fold((0, 0), |(s, r), (es, er)| (s + es, r + er));
        (started, completed, failed, retried)
    }

    /// The concurrency the run shares out.
    pub(super) fn concurrency(&self) -> usize {
        self.concurrency
    }
}

/// The distinct (`maxmemory_policy`, `maxmemory`) pairs of an `INFO memory`
/// reply: one text, or one per node of a cluster.
fn eviction_settings(info: &redis::Value) -> BTreeSet<(String, String)> {
    let mut texts = Vec::new();
    collect_texts(info, &mut texts);
    texts
        .iter()
        .filter_map(|text| {
            let value = |name: &str| {
                text.lines()
                    .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                    .map(|value| value.trim().to_owned())
            };
            Some((
                value("maxmemory_policy")?,
                value("maxmemory").unwrap_or_default(),
            ))
        })
        .collect()
}

fn collect_texts(value: &redis::Value, out: &mut Vec<String>) {
    match value {
        redis::Value::BulkString(bytes) => out.push(String::from_utf8_lossy(bytes).into_owned()),
        redis::Value::SimpleString(text) | redis::Value::VerbatimString { text, .. } => {
            out.push(text.clone());
        }
        redis::Value::Array(items) | redis::Value::Set(items) => {
            for item in items {
                collect_texts(item, out);
            }
        }
        redis::Value::Map(pairs) => {
            for (_, item) in pairs {
                collect_texts(item, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_settings_are_read_from_one_node_or_many() {
        let node = |policy: &str, max: &str| {
            redis::Value::BulkString(
                format!("# Memory\r\nmaxmemory:{max}\r\nmaxmemory_human:0B\r\nmaxmemory_policy:{policy}\r\n")
                    .into_bytes(),
            )
        };
        let one = eviction_settings(&node("allkeys-lru", "1048576"));
        assert_eq!(
            one,
            BTreeSet::from([("allkeys-lru".into(), "1048576".into())])
        );
        let cluster = redis::Value::Map(vec![
            (
                redis::Value::SimpleString("a:1".into()),
                node("noeviction", "0"),
            ),
            (
                redis::Value::SimpleString("b:2".into()),
                node("volatile-lru", "0"),
            ),
            (
                redis::Value::SimpleString("c:3".into()),
                node("noeviction", "0"),
            ),
        ]);
        assert_eq!(
            eviction_settings(&cluster),
            BTreeSet::from([
                ("noeviction".into(), "0".into()),
                ("volatile-lru".into(), "0".into())
            ])
        );
        assert!(eviction_settings(&redis::Value::Nil).is_empty());
    }
}
