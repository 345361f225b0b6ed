//! Unit tests of the engine's pure parts, and some against real Redis.
use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use ardiq_spec::limits::MAX_BATCH;
use ardiq_spec::limits::MAX_RECORD_BYTES;
use ardiq_spec::Job;
use ardiq_spec::State;
use ardiq_spec::Status;
use ardiq_spec::Value;
use ardiq_spec::GROUP;
use ardiq_spec::RECORD_VERSION;
use prost::Message as _;
use redis::Value as RedisValue;
use tokio::sync::mpsc;

use super::admission::validate;
use super::admission::Entry;
use super::fetch::create_groups;
use super::fetch::parse_fetch_reply;
use super::finish::HANDED_BACK_IDLE_MS;
use super::local::Held;
use super::local::Local;
use super::local::AUTO_PREFETCH_MAX;
use super::outcome::backoff_ms;
use super::outcome::Action;
use super::outcome::FinishItem;
use super::outcome::KeptFailure;
use super::outcome::MAX_BACKOFF_MS;
use super::Engine;
use super::TaskConfig;
use super::WorkerConfig;
use crate::bridge::Bridge;
use crate::conn::Conn;

fn entry(fields: &[(&str, Vec<u8>)]) -> Entry {
    Entry {
        id: "1-0".into(),
        fields: fields
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect(),
    }
}

fn tasks() -> HashMap<String, TaskConfig> {
    HashMap::from([(
        "add".to_owned(),
        TaskConfig {
            retries: 0,
            backoff_ms: 1000,
            timeout_ms: None,
            result_ttl_ms: 1000,
        },
    )])
}

fn job(version: &str, task: &str, args: Vec<u8>) -> Vec<u8> {
    Job {
        spec_version: version.into(),
        id: "j".into(),
        task: task.into(),
        args,
        ..Job::default()
    }
    .encode_to_vec()
}

#[test]
fn every_malformed_kind_gets_its_reason() {
    let reason = |e: Entry| validate(&e, &tasks()).unwrap_err().reason;
    assert_eq!(reason(entry(&[("id", b"j".to_vec())])), "malformed_entry");
    assert_eq!(
        reason(entry(&[
            ("id", b"j".to_vec()),
            ("task", b"add".to_vec()),
            ("job", vec![0xff, 0xff])
        ])),
        "undecodable_job"
    );
    assert_eq!(
        reason(entry(&[
            ("id", b"j".to_vec()),
            ("task", b"add".to_vec()),
            ("job", job("2.0", "add", vec![]))
        ])),
        "unsupported_version"
    );
    assert_eq!(
        reason(entry(&[
            ("id", b"j".to_vec()),
            ("task", b"nope".to_vec()),
            ("job", job("1.0", "nope", vec![]))
        ])),
        "unknown_task"
    );
    assert_eq!(
        reason(entry(&[
            ("id", b"j".to_vec()),
            ("task", b"add".to_vec()),
            ("job", job("1.0", "add", vec![0x01]))
        ])),
        "undecodable_args"
    );
    assert_eq!(
        reason(entry(&[
            ("id", b"j".to_vec()),
            ("task", b"add".to_vec()),
            ("job", vec![0; MAX_RECORD_BYTES + 1])
        ])),
        "oversize"
    );
}

#[test]
fn an_id_no_producer_may_write_is_malformed_and_its_field_is_kept_for_running() {
    let record = |id: &str| {
        Job {
            spec_version: "1.0".into(),
            id: id.into(),
            task: "add".into(),
            ..Job::default()
        }
        .encode_to_vec()
    };
    let long = "x".repeat(257);
    for (id, job_id) in [
        ("", ""),
        ("a b", "a b"),
        ("a\u{3000}b", "a\u{3000}b"),
        (long.as_str(), ""),
    ] {
        let rejection = validate(
            &entry(&[
                ("id", id.as_bytes().to_vec()),
                ("task", b"add".to_vec()),
                ("job", record(id)),
            ]),
            &tasks(),
        )
        .unwrap_err();
        assert_eq!(rejection.reason, "malformed_entry", "{id:?}");
        assert_eq!(rejection.job_id, job_id, "{id:?}");
        assert_eq!(rejection.id_field, id.as_bytes(), "{id:?}");
        assert!(!rejection.detail.is_empty());
    }
    let rejection = validate(
        &entry(&[
            ("id", vec![0xff, 0xfe]),
            ("task", b"add".to_vec()),
            ("job", record("j")),
        ]),
        &tasks(),
    )
    .unwrap_err();
    assert_eq!(
        (rejection.reason, rejection.job_id.as_str()),
        ("malformed_entry", "")
    );
    assert_eq!(rejection.id_field, [0xff, 0xfe]);
    // A field given twice counts with its last value, the one `fetch.lua` records.
    let twice = entry(&[
        ("id", b"first".to_vec()),
        ("task", b"add".to_vec()),
        ("job", record("second")),
        ("id", b"second".to_vec()),
    ]);
    assert_eq!(validate(&twice, &tasks()).unwrap().job.id, "second");
    let rejection = validate(
        &entry(&[
            ("id", b"first".to_vec()),
            ("task", b"add".to_vec()),
            ("job", vec![0xff]),
            ("id", b"second".to_vec()),
        ]),
        &tasks(),
    )
    .unwrap_err();
    assert_eq!(rejection.id_field, b"second");
}

#[test]
fn a_good_entry_decodes_its_arguments() {
    let args = ardiq_spec::value::to_vec(&Value::Array(vec![Value::Int(1), Value::Int(2)]));
    let accepted = validate(
        &entry(&[
            ("id", b"j".to_vec()),
            ("task", b"add".to_vec()),
            ("job", job("1.1", "add", args)),
        ]),
        &tasks(),
    )
    .unwrap();
    assert_eq!(accepted.args, vec![Value::Int(1), Value::Int(2)]);
}

#[test]
fn backoff_doubles_is_capped_and_jitters_a_quarter() {
    assert_eq!(backoff_ms(1000, 0, 0.5), 1000);
    assert_eq!(backoff_ms(1000, 3, 0.5), 8000);
    assert_eq!(backoff_ms(1000, 3, 0.0), 6000);
    assert_eq!(backoff_ms(1000, 30, 0.5), MAX_BACKOFF_MS);
}

#[test]
fn automatic_prefetch_grows_for_short_runs_and_stays_for_long_ones() {
    let mut local = Local::default();
    // Before any run: the configured prefetch.
    assert_eq!(local.prefetch(10, 10, AUTO_PREFETCH_MAX), 10);
    // Runs of 50 µs: ten slots start 2,000 in 10 ms, so the cap.
    for _ in 0..20 {
        local.note_run(Duration::from_micros(50));
    }
    assert_eq!(local.prefetch(10, 10, AUTO_PREFETCH_MAX), AUTO_PREFETCH_MAX);
    // A prefetch the caller chose is kept as it is.
    assert_eq!(local.prefetch(10, 10, 10), 10);
    assert_eq!(local.prefetch(10, 0, 0), 0);
    // Runs of 100 ms: no more than the configured prefetch.
    let mut slow = Local::default();
    for _ in 0..20 {
        slow.note_run(Duration::from_millis(100));
    }
    assert_eq!(slow.prefetch(10, 10, AUTO_PREFETCH_MAX), 10);
    // Runs of 2 ms at ten slots: 50 fit in 10 ms.
    let mut medium = Local::default();
    medium.note_run(Duration::from_millis(2));
    assert_eq!(medium.prefetch(10, 10, AUTO_PREFETCH_MAX), 50);
    // The mean follows a change of run time.
    for _ in 0..100 {
        medium.note_run(Duration::from_millis(100));
    }
    assert_eq!(medium.prefetch(10, 10, AUTO_PREFETCH_MAX), 10);
}

#[test]
fn higher_priority_starts_first_and_starved_jobs_jump_ahead() {
    let mut local = Local::default();
    for (handle, priority) in [(1u64, 1u32), (2, 9), (3, 5)] {
        local.held.insert(
            handle,
            Held {
                job: Job::default(),
                entry_id: handle.to_string(),
                priority,
                fetched: Instant::now(),
                confirmed: Instant::now(),
                started_ms: 0,
                started_at: None,
                running: false,
                cancel_sent: false,
                values: None,
                progress: None,
            },
        );
        local.waiting[priority as usize].push_back(handle);
    }
    assert_eq!(local.next_waiting(), Some(2));
    local.held.get_mut(&1).unwrap().fetched =
        Instant::now().checked_sub(Duration::from_secs(11)).unwrap();
    assert_eq!(local.next_waiting(), Some(1));
    assert_eq!(local.next_waiting(), Some(3));
}

/// Against the Redis at `REDIS_URL` (the test command provides one).
mod against_redis {
    use ardiq_client::connection::{ConnectOptions, Connection};

    use super::*;

    fn config(worker_id: &str) -> WorkerConfig {
        WorkerConfig {
            worker_id: worker_id.into(),
            concurrency: 10,
            prefetch: 0,
            prefetch_max: 0,
            burst: false,
            burst_waits_delayed: false,
            progress_interval_ms: 250,
            journal_maxlen: 0,
            visibility_ms: 30_000,
            max_deliveries: 3,
            block_ms: 100,
            promote_interval_ms: 500,
            heartbeat_ms: 5_000,
            tasks: tasks(),
            dead_maxlen: 1000,
            failed_maxlen: 1000,
            failed_retention_ms: 86_400_000,
            metrics: true,
            hostname: "test".into(),
            pid: 1,
            schedules: Vec::new(),
        }
    }

    async fn connect() -> Conn {
        let url = std::env::var("REDIS_URL").expect(
            "REDIS_URL names a test Redis: run through `make test-rust` (or `.venv/bin/python -m ardiq_testing.redis -- cargo test`)",
        );
        Connection::open(&url, &ConnectOptions::default(), Duration::ZERO)
            .await
            .expect("connect to REDIS_URL")
    }

    /// An engine of `config` on a fresh queue named after `label`, with the
    /// receiving end of its finisher's channel.
    fn engine(label: &str, config: WorkerConfig) -> (Arc<Engine>, mpsc::UnboundedReceiver<Action>) {
        let queue = format!("engine-{label}-{}", ardiq_spec::new_job_id());
        Engine::new(
            config,
            &queue,
            std::slice::from_ref(&queue),
            0,
            std::sync::Weak::new(),
            Arc::new(Bridge::new().unwrap()),
        )
    }

    /// Adds a job of task `add` with id `id` to `stream` as a producer
    /// would; returns its entry id.
    async fn add_job(conn: &mut Conn, stream: &str, id: &str) -> String {
        let job = Job {
            spec_version: RECORD_VERSION.into(),
            id: id.into(),
            task: "add".into(),
            ..Job::default()
        };
        redis::cmd("XADD")
            .arg(stream)
            .arg("*")
            .arg("id")
            .arg(&job.id)
            .arg("task")
            .arg("add")
            .arg("job")
            .arg(job.encode_to_vec())
            .query_async(conn)
            .await
            .unwrap()
    }

    /// Delivers every new entry of `stream` to `consumer` (its pending
    /// entries then), as a worker's read would.
    async fn deliver_all(conn: &mut Conn, stream: &str, consumer: &str) {
        let _: RedisValue = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("STREAMS")
            .arg(stream)
            .arg(">")
            .query_async(conn)
            .await
            .unwrap();
    }

    /// An engine on the test Redis, its queue's groups created, and a
    /// connection.
    async fn engine_with_groups(
        label: &str,
        config: WorkerConfig,
    ) -> (Arc<Engine>, mpsc::UnboundedReceiver<Action>, Conn) {
        let (engine, receiver) = engine(label, config);
        let mut conn = connect().await;
        create_groups(&engine.keys, &mut conn).await.unwrap();
        (engine, receiver, conn)
    }

    /// Moves the pending entries `ids` of `stream` to `consumer` now
    /// (`XCLAIM` at idle 0, `JUSTID`), their delivery count set to
    /// `deliveries` when given.
    async fn claim_for(
        conn: &mut Conn,
        stream: &str,
        consumer: &str,
        ids: &[&String],
        deliveries: Option<u32>,
    ) {
        let mut claim = redis::cmd("XCLAIM");
        claim.arg(stream).arg(GROUP).arg(consumer).arg(0).arg(ids);
        if let Some(count) = deliveries {
            claim.arg("RETRYCOUNT").arg(count);
        }
        let _: RedisValue = claim.arg("JUSTID").query_async(conn).await.unwrap();
    }

    /// The ids of the jobs `engine` holds, sorted, and how many entries it
    /// knows (`by_entry`).
    fn held_and_known(engine: &Engine) -> (Vec<String>, usize) {
        let local = engine.local.lock().unwrap();
        let mut ids: Vec<String> = local.held.values().map(|h| h.job.id.clone()).collect();
        ids.sort_unstable();
        (ids, local.by_entry.len())
    }

    /// An adoption of orphans (as after a failed call) that must take up
    /// nothing: the `known` entries `engine` knows are all reserved.
    async fn adopt_expecting_none(engine: &Engine, conn: &mut Conn, known: usize) {
        engine.may_have_orphans();
        engine.adopt_orphans_if_any(conn).await.unwrap();
        let (held, reserved) = held_and_known(engine);
        assert!(
            held.is_empty(),
            "the adoption took up reserved entries: {held:?}"
        );
        assert_eq!(reserved, known);
    }

    /// A stream entry's fields, as `XRANGE` gives them.
    type EntryFields = Vec<(Vec<u8>, Vec<u8>)>;

    /// One status Redis refuses in a batch of seven on two streams: the
    /// batch is stored in halves down to that one, which is dead-lettered;
    /// every other job's status is stored and its kept failure (three
    /// failed for good) kept once, in whichever half it went.
    #[tokio::test]
    async fn a_result_redis_refuses_is_dead_lettered_and_the_rest_of_the_batch_is_stored() {
        let (engine, _receiver, mut conn) = engine_with_groups("poison", config("w1")).await;
        // Two streams; jobs 1, 5 and 6 failed for good and are kept: the
        // halves the refused batch is stored in keep each its own.
        let mut items = Vec::new();
        for n in 0..7 {
            let priority = if n % 2 == 0 { 5 } else { 9 };
            let failed = [1, 5, 6].contains(&n);
            let job = Job {
                spec_version: RECORD_VERSION.into(),
                id: format!("j{n}"),
                task: "add".into(),
                ..Job::default()
            };
            let entry_id = add_job(&mut conn, &engine.keys.stream(priority), &job.id).await;
            let status = Status {
                spec_version: RECORD_VERSION.into(),
                state: if failed {
                    State::Failed
                } else {
                    State::Complete
                } as i32,
                ..Status::default()
            };
            // Job 4's TTL is one Redis refuses ("not an integer or out of range").
            let ttl_ms = if n == 4 { u64::MAX } else { 60_000 };
            items.push(FinishItem {
                priority,
                entry_id,
                job,
                ttl_ms,
                status: status.encode_to_vec(),
                failure: failed.then(|| KeptFailure {
                    error_type: format!("E{n}"),
                    record: format!("failure {n}").into_bytes(),
                }),
            });
        }
        for priority in [5, 9] {
            deliver_all(&mut conn, &engine.keys.stream(priority), "w1").await;
        }

        engine.store_finishes(&mut conn, items).await;

        for n in [0, 1, 2, 3, 5, 6] {
            let record: Vec<u8> = redis::cmd("GET")
                .arg(engine.keys.job(&format!("j{n}")))
                .query_async(&mut conn)
                .await
                .unwrap();
            let expected = if [1, 5, 6].contains(&n) {
                State::Failed
            } else {
                State::Complete
            };
            assert_eq!(
                Status::decode(record.as_slice()).unwrap().state,
                expected as i32
            );
        }
        let kept: Vec<(String, EntryFields)> = redis::cmd("XRANGE")
            .arg(engine.keys.failed())
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut kept: Vec<(String, String, String)> = kept
            .into_iter()
            .map(|(_, fields)| {
                let field = |name: &[u8]| {
                    let value = &fields.iter().find(|(f, _)| f == name).unwrap().1;
                    String::from_utf8(value.clone()).unwrap()
                };
                (field(b"id"), field(b"type"), field(b"record"))
            })
            .collect();
        kept.sort_unstable();
        let expected: Vec<(String, String, String)> = [1, 5, 6]
            .map(|n| (format!("j{n}"), format!("E{n}"), format!("failure {n}")))
            .into();
        assert_eq!(kept, expected);
        let poisoned: Vec<u8> = redis::cmd("GET")
            .arg(engine.keys.job("j4"))
            .query_async(&mut conn)
            .await
            .unwrap();
        let poisoned = Status::decode(poisoned.as_slice()).unwrap();
        assert_eq!(poisoned.state, State::Dead as i32);
        assert!(poisoned.error.unwrap().message.starts_with("unstorable: "));
        let dead: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(engine.keys.dead())
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(dead.ids.len(), 1);
        for priority in [5, 9] {
            let left: usize = redis::cmd("XLEN")
                .arg(engine.keys.stream(priority))
                .query_async(&mut conn)
                .await
                .unwrap();
            assert_eq!(
                left, 0,
                "every entry is acked and deleted, the refused one too"
            );
        }
    }

    /// Entries the idle read and a pass hand the worker are known at once
    /// (`by_entry`), before they are taken up: an adoption of orphans
    /// meanwhile (after some other call failed) lists them among the
    /// worker's pending entries and must leave them alone. Taking them up
    /// there too ran them twice, and the second run's write, finding the
    /// entry done, left its `running` field behind (seen under chaos).
    #[tokio::test]
    async fn entries_a_read_gives_are_known_at_once_so_no_adoption_takes_them_up_too() {
        let (engine, _receiver, mut conn) = engine_with_groups("reserve", config("w1")).await;
        for n in 0..5 {
            add_job(&mut conn, &engine.keys.stream(5), &format!("r{n}")).await;
        }
        let streams = engine.keys.streams_high_to_low();
        let woken = engine
            .read(&mut conn, &streams, 1, Some(100))
            .await
            .unwrap();
        let (passed, _) = engine
            .read_by_priority(&mut conn, &streams, 10)
            .await
            .unwrap();
        assert_eq!((woken.len(), passed.len()), (1, 4));

        adopt_expecting_none(&engine, &mut conn, 5).await;

        // Taken up by their own read's path, each once.
        engine
            .accept(&mut conn, woken, Instant::now(), false, None)
            .await;
        engine
            .accept(
                &mut conn,
                passed,
                Instant::now(),
                false,
                Some(HashSet::new()),
            )
            .await;
        let (held, known) = held_and_known(&engine);
        assert_eq!(
            (held, known),
            (["r0", "r1", "r2", "r3", "r4"].map(String::from).into(), 5)
        );
    }

    /// A pass that reads more than `fetch.lua`'s chunk of 1,000 job ids, from
    /// two levels: every id goes to `running`, and the aborted ones of both
    /// chunks come back, none other.
    #[tokio::test]
    async fn a_pass_of_more_than_a_thousand_entries_records_and_checks_every_one() {
        let mut config = config("w1");
        config.concurrency = 1_500;
        let (engine, _receiver, mut conn) = engine_with_groups("fetch-chunks", config).await;
        for n in 0..1_500 {
            let priority = if n < 700 { 9 } else { 5 };
            add_job(&mut conn, &engine.keys.stream(priority), &format!("f{n}")).await;
        }
        add_job(&mut conn, &engine.keys.stream(1), "unread").await;
        let aborted = ["f3", "f699", "f700", "f999", "f1000", "f1499", "unread"];
        let _: i64 = redis::cmd("SADD")
            .arg(engine.keys.abort())
            .arg(&aborted)
            .query_async(&mut conn)
            .await
            .unwrap();

        let streams = engine.keys.streams_high_to_low();
        let (read, found) = engine
            .read_by_priority(&mut conn, &streams, 1_500)
            .await
            .unwrap();
        assert_eq!(read.len(), 1_500);
        let mut found: Vec<&str> = found.iter().map(String::as_str).collect();
        found.sort_by_key(|id| id[1..].parse::<u32>().unwrap());
        assert_eq!(found, aborted[..6]);
        let running: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(engine.keys.running())
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(running.len(), 1_500);
        assert!((0..1_500).all(|n| running.get(&format!("f{n}")).is_some_and(|w| w == "w1")));
    }

    /// A stopping worker's hand-back of more entries than one `XCLAIM` of
    /// `release.lua` takes (100), on two levels, some of them taken over by
    /// another worker meanwhile: every owned one stays pending with the
    /// hand-back's idle time and leaves `running`; the taken ones are left
    /// as they are.
    #[tokio::test]
    async fn a_hand_back_of_hundreds_of_entries_releases_each_owned_one_and_no_other() {
        let (engine, _receiver, mut conn) = engine_with_groups("release-many", config("w1")).await;
        let mut batch = Vec::new();
        let mut taken = Vec::new();
        for priority in [9, 2] {
            let stream = engine.keys.stream(priority);
            let mut ids = Vec::new();
            for n in 0..250 {
                let job_id = format!("h{priority}-{n}");
                ids.push((add_job(&mut conn, &stream, &job_id).await, job_id));
            }
            deliver_all(&mut conn, &stream, "w1").await;
            // Every fifth one another worker has reclaimed.
            let other: Vec<&String> = ids.iter().step_by(5).map(|(entry, _)| entry).collect();
            claim_for(&mut conn, &stream, "w2", &other, None).await;
            for (n, (entry_id, job_id)) in ids.into_iter().enumerate() {
                let owner = if n % 5 == 0 { "w2" } else { "w1" };
                let _: i64 = redis::cmd("HSET")
                    .arg(engine.keys.running())
                    .arg(&job_id)
                    .arg(owner)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                if n % 5 == 0 {
                    taken.push(job_id.clone());
                }
                batch.push(Action::Release {
                    priority,
                    entry_id,
                    job_id,
                });
            }
        }

        engine.store(&mut conn, batch).await;

        let running: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(engine.keys.running())
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut left: Vec<&String> = running.keys().collect();
        left.sort_unstable();
        taken.sort_unstable();
        assert_eq!(left, taken.iter().collect::<Vec<_>>());
        assert!(running.values().all(|owner| owner == "w2"));
        for priority in [9, 2] {
            let pending: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
                .arg(engine.keys.stream(priority))
                .arg(GROUP)
                .arg("-")
                .arg("+")
                .arg(1_000)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert_eq!(pending.ids.len(), 250);
            for (n, p) in pending.ids.iter().enumerate() {
                if n % 5 == 0 {
                    assert_eq!(p.consumer, "w2");
                    assert!(p.last_delivered_ms < 60_000, "{p:?}");
                } else {
                    assert_eq!(p.consumer, "w1");
                    assert!(p.last_delivered_ms >= HANDED_BACK_IDLE_MS as usize, "{p:?}");
                }
            }
        }
    }

    /// Orphans past one page of the worker's own pending entries (1,000),
    /// on two levels, next to entries a read gave it: each orphan is taken
    /// up once, the read's are left to it.
    #[tokio::test]
    async fn more_orphans_than_a_page_on_two_levels_are_each_taken_up_once() {
        let mut config = config("w1");
        config.concurrency = 1_300;
        let (engine, _receiver, mut conn) = engine_with_groups("orphans-many", config).await;
        for n in 0..5 {
            add_job(&mut conn, &engine.keys.stream(3), &format!("read{n}")).await;
        }
        let streams = engine.keys.streams_high_to_low();
        let (read, _) = engine
            .read_by_priority(&mut conn, &streams, 5)
            .await
            .unwrap();
        assert_eq!(read.len(), 5);
        let mut expected = Vec::new();
        for (priority, count) in [(9, 100), (3, 1_100)] {
            let stream = engine.keys.stream(priority);
            for n in 0..count {
                let id = format!("o{priority}-{n}");
                add_job(&mut conn, &stream, &id).await;
                expected.push(id);
            }
            // Delivered to this worker by a read whose reply it never saw.
            deliver_all(&mut conn, &stream, "w1").await;
        }

        engine.may_have_orphans();
        engine.adopt_orphans_if_any(&mut conn).await.unwrap();
        expected.sort_unstable();
        assert_eq!(held_and_known(&engine), (expected, 1_205));
    }

    /// More due jobs than one `promote.lua` call moves (1,000), on three
    /// levels: the promoter calls again at once while calls come back full,
    /// not after its interval and jitter (ten minutes and up to one here),
    /// and each job lands in its own level's stream.
    #[tokio::test]
    async fn more_due_jobs_than_a_call_moves_are_all_promoted_without_waiting_an_interval() {
        let mut config = config("w1");
        config.promote_interval_ms = 600_000;
        let (engine, _receiver, mut conn) = engine_with_groups("promote-many", config).await;
        let due = crate::engine::now_ms() - 1_000;
        let mut pipe = redis::pipe();
        for n in 0..2_500_u32 {
            let job = Job {
                spec_version: RECORD_VERSION.into(),
                id: format!("d{n}"),
                task: "add".into(),
                priority: [0, 4, 9][n as usize % 3],
                ..Job::default()
            };
            pipe.cmd("ZADD")
                .arg(engine.keys.delayed())
                .arg(due)
                .arg(&job.id)
                .ignore();
            pipe.cmd("HSET")
                .arg(engine.keys.delayed_jobs())
                .arg(&job.id)
                .arg(job.encode_to_vec())
                .ignore();
        }
        let () = pipe.query_async(&mut conn).await.unwrap();

        let promoter = tokio::spawn(engine.clone().promoter(connect().await));
        let streams = [0, 4, 9].map(|priority| engine.keys.stream(priority));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut pipe = redis::pipe();
            for stream in &streams {
                pipe.cmd("XLEN").arg(stream);
            }
            let lengths: Vec<usize> = pipe.query_async(&mut conn).await.unwrap();
            if lengths.iter().sum::<usize>() == 2_500 {
                assert_eq!(lengths, [834, 833, 833]);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "promoted only {lengths:?} of 2,500"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        promoter.abort();
        let left: usize = redis::cmd("ZCARD")
            .arg(engine.keys.delayed())
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 0);
    }

    /// The same for a claim: entries `XAUTOCLAIM` took from a dead worker
    /// are known before their delivery counts are read, so an adoption of
    /// orphans meanwhile (the fetcher's, while the reclaimer waits on that
    /// reply) does not take them up as well; each is then held once.
    #[tokio::test]
    async fn entries_a_claim_gives_are_known_at_once_so_no_adoption_takes_them_up_too() {
        let mut config = config("w1");
        // Idle past 300 ms: claimable; the adoption, well within 200 ms of
        // the claims, would take entries up (not leave them to a reclaim).
        config.visibility_ms = 300;
        let (engine, _receiver, mut conn) = engine_with_groups("reserve-claim", config).await;
        let stream = engine.keys.stream(5);
        for n in 0..12 {
            add_job(&mut conn, &stream, &format!("c{n}")).await;
        }
        deliver_all(&mut conn, &stream, "gone").await;
        tokio::time::sleep(Duration::from_millis(350)).await;

        let (next, first, first_at) = engine.claim_idle(&mut conn, 5, "0-0", 5).await.unwrap();
        let (_, second, second_at) = engine.claim_idle(&mut conn, 5, &next, 50).await.unwrap();
        assert_eq!((first.len(), second.len()), (5, 7));

        adopt_expecting_none(&engine, &mut conn, 12).await;

        engine
            .take_reclaimed(&mut conn, 5, &stream, first, first_at)
            .await
            .unwrap();
        engine
            .take_reclaimed(&mut conn, 5, &stream, second, second_at)
            .await
            .unwrap();
        let mut expected: Vec<String> = (0..12).map(|n| format!("c{n}")).collect();
        expected.sort_unstable();
        assert_eq!(held_and_known(&engine), (expected, 12));
    }

    /// A claim's delivery counts are read for every claimed entry, however
    /// many of this worker's own entries lie between them (several workers
    /// reading one backlog interleave their ids), more than a page of them
    /// here: each entry over the delivery limit is dead-lettered, none runs
    /// again.
    #[tokio::test]
    async fn every_claimed_entry_over_the_delivery_limit_is_dead_lettered_among_own_entries() {
        let mut config = config("w1");
        config.visibility_ms = 300;
        config.concurrency = 1;
        let (engine, mut receiver, mut conn) = engine_with_groups("claim-limit", config).await;
        let stream = engine.keys.stream(5);
        let mut entries = Vec::new();
        for n in 0..2_400 {
            entries.push(add_job(&mut conn, &stream, &format!("p{n}")).await);
        }
        deliver_all(&mut conn, &stream, "gone").await;
        // The dead worker's odd entries have been delivered 3 times (the
        // limit); its claim makes it 4.
        let odd: Vec<&String> = entries.iter().skip(1).step_by(2).collect();
        let even: Vec<&String> = entries.iter().step_by(2).collect();
        claim_for(&mut conn, &stream, "gone", &odd, Some(3)).await;
        tokio::time::sleep(Duration::from_millis(350)).await;
        // The even ones are this worker's own now, fresh (held elsewhere).
        claim_for(&mut conn, &stream, "w1", &even, None).await;

        // A claim of a batch: its range holds about as many entries of this
        // worker's own, so their listing takes two pages.
        let (_, claimed, claimed_at) = engine
            .claim_idle(&mut conn, 5, "0-0", MAX_BATCH)
            .await
            .unwrap();
        assert_eq!(claimed.len(), MAX_BATCH);
        engine
            .take_reclaimed(&mut conn, 5, &stream, claimed, claimed_at)
            .await
            .unwrap();
        let mut dead = Vec::new();
        while let Ok(action) = receiver.try_recv() {
            if let Action::Dead(item) = action {
                assert_eq!(item.reason, "delivery_limit");
                assert_eq!(
                    item.job_id,
                    format!(
                        "p{}",
                        entries.iter().position(|e| *e == item.entry_id).unwrap()
                    )
                );
                dead.push(item.entry_id);
            }
        }
        dead.sort_unstable_by_key(|id| entries.iter().position(|e| e == id));
        let expected: Vec<String> = odd.into_iter().take(MAX_BATCH).cloned().collect();
        assert_eq!(dead, expected);
        assert!(engine.local.lock().unwrap().held.is_empty());
    }

    /// An entry over the delivery limit whose `id` field is too long to be a
    /// job id is dead-lettered naming no id, as a malformed one would be.
    #[tokio::test]
    async fn a_dead_letter_for_the_delivery_limit_names_no_id_too_long_to_be_one() {
        let mut config = config("w1");
        config.visibility_ms = 300;
        let (engine, mut receiver, mut conn) = engine_with_groups("claim-long-id", config).await;
        let stream = engine.keys.stream(5);
        let entry_id = add_job(&mut conn, &stream, &"x".repeat(300)).await;
        deliver_all(&mut conn, &stream, "gone").await;
        claim_for(&mut conn, &stream, "gone", &[&entry_id], Some(3)).await;
        tokio::time::sleep(Duration::from_millis(350)).await;

        let (_, claimed, claimed_at) = engine.claim_idle(&mut conn, 5, "0-0", 10).await.unwrap();
        engine
            .take_reclaimed(&mut conn, 5, &stream, claimed, claimed_at)
            .await
            .unwrap();
        let Ok(Action::Dead(item)) = receiver.try_recv() else {
            panic!("no dead letter");
        };
        assert_eq!((item.reason, item.job_id.as_str()), ("delivery_limit", ""));
    }

    /// A renewal that failed is tried again a tenth of the period later, not
    /// a whole period: a short outage that spans two rounds must not leave
    /// the entries unrenewed for the whole visibility timeout. The worker's
    /// ACL user loses its scripts for the first round (`NOPERM`), gets them
    /// back, and its entry is renewed soon after.
    #[tokio::test]
    async fn a_failed_renewal_is_tried_again_soon() {
        let user = format!("renewer-{}", ardiq_spec::new_job_id());
        let mut admin = connect().await;
        let set_scripts = |allowed: bool| {
            let mut acl = redis::cmd("ACL");
            acl.arg("SETUSER")
                .arg(&user)
                .arg("on")
                .arg(">secret")
                .arg("~*")
                .arg("&*")
                .arg("+@all");
            if !allowed {
                acl.arg("-evalsha").arg("-eval");
            }
            acl
        };
        let () = set_scripts(false).query_async(&mut admin).await.unwrap();
        let url = std::env::var("REDIS_URL").unwrap();
        let url = url.replacen("redis://", &format!("redis://{user}:secret@"), 1);
        let conn = Connection::open(&url, &ConnectOptions::default(), Duration::ZERO)
            .await
            .unwrap();

        let mut config = config("w1");
        config.visibility_ms = 3_000; // rounds every 1,000 ms; after a failure, 100 ms
        let (engine, _receiver) = engine("renew", config);
        create_groups(&engine.keys, &mut admin).await.unwrap();
        let stream = engine.keys.stream(5);
        let entry_id = add_job(&mut admin, &stream, "j").await;
        deliver_all(&mut admin, &stream, "w1").await;
        engine
            .local
            .lock()
            .unwrap()
            .by_entry
            .insert((5, entry_id.clone()));
        let renewer = tokio::spawn(Arc::clone(&engine).renewer(conn));

        // The first round (at 1 s) fails; the scripts come back at 1.3 s.
        tokio::time::sleep(Duration::from_millis(1_300)).await;
        let () = set_scripts(true).query_async(&mut admin).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let pending: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&stream)
            .arg(GROUP)
            .arg("-")
            .arg("+")
            .arg(10)
            .query_async(&mut admin)
            .await
            .unwrap();
        renewer.abort();
        let _: RedisValue = redis::cmd("ACL")
            .arg("DELUSER")
            .arg(&user)
            .query_async(&mut admin)
            .await
            .unwrap();
        assert_eq!(pending.ids.len(), 1);
        // Renewed within about 100 ms of the scripts' return, so idle for
        // some 300 ms; waiting out the period would leave it idle 1.7 s.
        assert!(
            pending.ids[0].last_delivered_ms < 1_000,
            "idle {} ms: not renewed again after the failed round",
            pending.ids[0].last_delivered_ms
        );
    }
}

#[test]
fn fetch_reply_is_taken_apart_per_level_and_entry() {
    let bulk = |s: &str| RedisValue::BulkString(s.as_bytes().to_vec());
    let reply = RedisValue::Array(vec![
        RedisValue::Array(vec![
            RedisValue::Array(vec![
                bulk("ardiq:{q}:stream:9"),
                bulk("5-0"),
                RedisValue::Int(6),
                bulk("id"),
                bulk("a"),
                bulk("task"),
                bulk("add"),
                bulk("job"),
                RedisValue::BulkString(vec![0, 255, 1]),
            ]),
            RedisValue::Array(vec![
                bulk("ardiq:{q}:stream:5"),
                bulk("1-0"),
                RedisValue::Int(2),
                bulk("id"),
                bulk("b"),
                bulk("1-1"),
                RedisValue::Int(4),
                bulk("id"),
                bulk("c"),
                bulk("id"),
                bulk("c2"),
            ]),
        ]),
        RedisValue::Array(vec![bulk("c2")]),
    ]);
    let (entries, aborted) = parse_fetch_reply(reply).expect("a well-formed reply");
    let ids: Vec<(u32, &str)> = entries.iter().map(|(p, e)| (*p, e.id.as_str())).collect();
    assert_eq!(ids, [(9, "5-0"), (5, "1-0"), (5, "1-1")]);
    assert_eq!(entries[0].1.fields.len(), 3);
    assert_eq!(entries[0].1.field("job"), Some(&[0, 255, 1][..]));
    // A name given twice: the last value, as a map of the fields keeps it.
    assert_eq!(entries[2].1.field("id"), Some(&b"c2"[..]));
    assert_eq!(aborted.into_iter().collect::<Vec<_>>(), ["c2"]);
}

#[test]
fn fetch_reply_of_another_shape_is_an_error() {
    let bulk = |s: &str| RedisValue::BulkString(s.as_bytes().to_vec());
    for reply in [
        RedisValue::Nil,
        RedisValue::Array(vec![]),
        // an entry whose field count runs past the level
        RedisValue::Array(vec![
            RedisValue::Array(vec![RedisValue::Array(vec![
                bulk("ardiq:{q}:stream:5"),
                bulk("1-0"),
                RedisValue::Int(4),
                bulk("id"),
                bulk("a"),
            ])]),
            RedisValue::Array(vec![]),
        ]),
        // the old nested shape: an entry as {id, fields}
        RedisValue::Array(vec![
            RedisValue::Array(vec![RedisValue::Array(vec![
                bulk("ardiq:{q}:stream:5"),
                RedisValue::Array(vec![RedisValue::Array(vec![
                    bulk("1-0"),
                    RedisValue::Array(vec![bulk("id"), bulk("a")]),
                ])]),
            ])]),
            RedisValue::Array(vec![]),
        ]),
    ] {
        assert!(parse_fetch_reply(reply).is_err());
    }
}

mod admission_properties {
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    /// The reasons admission may give (SPEC.md section 9, less the ones a
    /// run or a store gives).
    const REASONS: [&str; 7] = [
        "malformed_entry",
        "undecodable_job",
        "unsupported_version",
        "unknown_task",
        "undecodable_args",
        "oversize",
        "invalid_option",
    ];

    fn good_record() -> Vec<u8> {
        let value = |v: &Value| ardiq_spec::value::to_vec(v);
        Job {
            spec_version: "1.1".into(),
            id: "j".into(),
            task: "add".into(),
            args: value(&Value::Array(vec![Value::Int(1), Value::Str("two".into())])),
            kwargs: value(&Value::Map(vec![("k".into(), Value::Float(0.5))])),
            priority: 5,
            enqueued_ms: 1_700_000_000_000,
            max_retries: Some(3),
            timeout_ms: Some(1_000),
            result_ttl_ms: Some(60_000),
            headers: std::collections::BTreeMap::from([(
                "traceparent".into(),
                "00-ab-cd-01".into(),
            )]),
            ..Job::default()
        }
        .encode_to_vec()
    }

    /// What `validate` promises of any entry: a rejection with a reason of
    /// the spec that keeps the entry's `id` field for `running`, or a job
    /// whose id and task are the entry's and whose task is registered.
    fn check(entry: &Entry) -> Result<(), TestCaseError> {
        match validate(entry, &tasks()) {
            Ok(accepted) => {
                prop_assert_eq!(Some(accepted.job.id.as_bytes()), entry.field("id"));
                prop_assert_eq!(Some(accepted.job.task.as_bytes()), entry.field("task"));
                prop_assert!(tasks().contains_key(&accepted.job.task));
                prop_assert!(ardiq_spec::limits::check_job_id(&accepted.job.id).is_ok());
            }
            Err(rejection) => {
                prop_assert!(REASONS.contains(&rejection.reason), "{}", rejection.reason);
                prop_assert!(!rejection.detail.is_empty());
                prop_assert_eq!(
                    rejection.id_field.as_slice(),
                    entry.field("id").unwrap_or_default()
                );
            }
        }
        Ok(())
    }

    fn name() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"id".to_vec()),
            Just(b"task".to_vec()),
            Just(b"job".to_vec()),
            vec(any::<u8>(), 0..4),
        ]
    }

    proptest! {
        #[test]
        fn any_fields_are_admitted_or_rejected_with_a_reason(
            fields in vec((name(), vec(any::<u8>(), 0..40)), 0..7)
        ) {
            check(&Entry { id: "1-0".into(), fields })?;
        }

        #[test]
        fn a_good_record_with_bytes_changed_cut_or_added_is_admitted_or_rejected_with_a_reason(
            changes in vec((any::<Index>(), 1..=255u8), 0..4),
            cut in proptest::option::of(any::<Index>()),
            extra in vec(any::<u8>(), 0..8),
        ) {
            let mut record = good_record();
            for (at, x) in changes {
                let i = at.index(record.len());
                record[i] ^= x;
            }
            if let Some(cut) = cut {
                record.truncate(cut.index(record.len()));
            }
            record.extend(extra);
            check(&entry(&[("id", b"j".to_vec()), ("task", b"add".to_vec()), ("job", record)]))?;
        }
    }

    #[test]
    fn the_good_record_is_admitted() {
        let accepted = validate(
            &entry(&[
                ("id", b"j".to_vec()),
                ("task", b"add".to_vec()),
                ("job", good_record()),
            ]),
            &tasks(),
        )
        .unwrap();
        assert_eq!(accepted.args.len(), 2);
        assert_eq!(accepted.kwargs.len(), 1);
    }
}
