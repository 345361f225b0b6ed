//! Enqueue against a real Redis: the keys and bytes each job leaves behind,
//! per SPEC.md sections 2 to 5.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use ardiq_client::spec::{Job, QueueKeys};
use ardiq_client::{EnqueueOutcome, EnqueueRequest, Error, JobStatus};
use prost::Message as _;
use redis::AsyncCommands as _;
use serde::Serialize;

const QUEUED: &[u8] = b"\x0a\x031.0\x10\x01";
const SCHEDULED: &[u8] = b"\x0a\x031.0\x10\x02";

/// The entries of a stream: id and field/value list.
async fn entries(keys: &QueueKeys, priority: u32) -> Vec<(String, Vec<Vec<u8>>)> {
    let mut redis = common::inspector().await;
    redis::cmd("XRANGE")
        .arg(keys.stream(priority))
        .arg("-")
        .arg("+")
        .query_async(&mut redis)
        .await
        .unwrap()
}

async fn total_stream_length(keys: &QueueKeys) -> usize {
    let mut redis = common::inspector().await;
    let mut total = 0;
    for stream in keys.streams_low_to_high() {
        let len: usize = redis.xlen(stream).await.unwrap();
        total += len;
    }
    total
}

/// Every key of the queue, so a test can say nothing was written.
async fn queue_keys(keys: &QueueKeys) -> Vec<String> {
    let mut redis = common::inspector().await;
    redis
        .keys(format!("ardiq:{{{}}}:*", keys.queue()))
        .await
        .unwrap()
}

#[derive(Serialize)]
struct Mail {
    to: String,
    cc: Vec<String>,
}

#[tokio::test]
async fn queued_job_writes_its_status_and_one_stream_entry() {
    let (client, keys) = common::client("queued").await;
    let mail = Mail {
        to: "a@example.com".into(),
        cc: vec![],
    };
    let job = client
        .enqueue("mail.send")
        .args((1, 2))
        .unwrap()
        .kwargs(&mail)
        .unwrap();
    let job = job.send().await.unwrap();
    assert_eq!(job.outcome(), Some(EnqueueOutcome::Queued));
    assert!(!job.is_duplicate());

    let mut redis = common::inspector().await;
    let status: Vec<u8> = redis.get(keys.job(job.id())).await.unwrap();
    assert_eq!(status, QUEUED);
    let ttl: i64 = redis.pttl(keys.job(job.id())).await.unwrap();
    assert_eq!(ttl, -1, "a queued status key has no TTL");

    let entries = entries(&keys, 5).await;
    assert_eq!(entries.len(), 1);
    let fields = &entries[0].1;
    assert_eq!(fields[0], b"id");
    assert_eq!(fields[1], job.id().as_bytes());
    assert_eq!(fields[2], b"task");
    assert_eq!(fields[3], b"mail.send");
    assert_eq!(fields[4], b"job");
    let record = Job::decode(fields[5].as_slice()).unwrap();
    assert_eq!(record.spec_version, "1.0");
    assert_eq!(record.id, job.id());
    assert_eq!(record.task, "mail.send");
    assert_eq!(record.args, [0x92, 0x01, 0x02]);
    let mut kwargs = vec![0x82, 0xa2, b't', b'o', 0xad];
    kwargs.extend_from_slice(b"a@example.com");
    kwargs.extend_from_slice(&[0xa2, b'c', b'c', 0x90]);
    assert_eq!(record.kwargs, kwargs);
    assert_eq!((record.priority, record.due_ms, record.attempt), (5, 0, 0));
    assert!(record.enqueued_ms > 1_600_000_000_000);
    assert_eq!(record.max_retries, None);
}

#[derive(Serialize)]
struct Everything {
    nil: Option<i32>,
    yes: bool,
    small: u8,
    negative: i16,
    big: u64,
    single: f32,
    text: &'static str,
    #[serde(with = "serde_bytes")]
    raw: Vec<u8>,
    list: (i32, Vec<i64>),
}

#[tokio::test]
async fn values_are_written_in_the_canonical_messagepack_of_the_type_table() {
    let (client, keys) = common::client("values").await;
    let value = Everything {
        nil: None,
        yes: true,
        small: 200,
        negative: -200,
        big: u64::try_from(i64::MAX).unwrap(),
        single: 0.5,
        text: "żółw",
        raw: vec![0, 255],
        list: (1, vec![]),
    };
    client
        .enqueue("echo")
        .args((&value,))
        .unwrap()
        .send()
        .await
        .unwrap();
    let record = Job::decode(entries(&keys, 5).await[0].1[5].as_slice()).unwrap();
    let mut expected = vec![0x91, 0x89];
    let field = |name: &str| {
        let mut out = vec![0xa0 | name.len() as u8];
        out.extend_from_slice(name.as_bytes());
        out
    };
    expected.extend(field("nil"));
    expected.push(0xc0);
    expected.extend(field("yes"));
    expected.push(0xc3);
    expected.extend(field("small"));
    expected.extend([0xcc, 200]);
    expected.extend(field("negative"));
    expected.extend([0xd1, 0xff, 0x38]);
    expected.extend(field("big"));
    expected.extend([0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expected.extend(field("single"));
    expected.extend([0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0]);
    expected.extend(field("text"));
    expected.push(0xa7);
    expected.extend("żółw".as_bytes());
    expected.extend(field("raw"));
    expected.extend([0xc4, 2, 0, 255]);
    expected.extend(field("list"));
    expected.extend([0x92, 0x01, 0x90]);
    assert_eq!(record.args, expected);
    assert!(record.kwargs.is_empty());
}

#[tokio::test]
async fn a_known_job_id_is_a_duplicate_and_writes_nothing() {
    let (client, keys) = common::client("dedup").await;
    let first = client
        .enqueue("add")
        .args((1, 2))
        .unwrap()
        .job_id("order-17")
        .send()
        .await;
    let second = client
        .enqueue("add")
        .args((3, 4))
        .unwrap()
        .job_id("order-17")
        .send()
        .await;
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.outcome(), Some(EnqueueOutcome::Queued));
    assert!(second.is_duplicate());
    assert_eq!(second.id(), "order-17");
    let entries = entries(&keys, 5).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        Job::decode(entries[0].1[5].as_slice()).unwrap().args,
        [0x92, 1, 2]
    );
}

#[tokio::test]
async fn a_delayed_job_waits_in_the_delayed_set_with_its_due_time() {
    let (client, keys) = common::client("delayed").await;
    let job = client
        .enqueue("add")
        .delay(Duration::from_secs(3600))
        .priority(7)
        .send()
        .await;
    let job = job.unwrap();
    assert_eq!(job.outcome(), Some(EnqueueOutcome::Scheduled));

    let mut redis = common::inspector().await;
    let record: Vec<u8> = redis.hget(keys.delayed_jobs(), job.id()).await.unwrap();
    let record = Job::decode(record.as_slice()).unwrap();
    assert_eq!(record.due_ms, record.enqueued_ms + 3_600_000);
    assert_eq!(record.priority, 7);
    let score: i64 = redis.zscore(keys.delayed(), job.id()).await.unwrap();
    assert_eq!(score, record.due_ms);
    let status: Vec<u8> = redis.get(keys.job(job.id())).await.unwrap();
    assert_eq!(status, SCHEDULED);
    assert_eq!(total_stream_length(&keys).await, 0);
    assert_eq!(job.status().await.unwrap(), JobStatus::Scheduled);
}

#[tokio::test]
async fn a_schedule_in_the_past_runs_now() {
    let (client, keys) = common::client("past").await;
    let job = client.enqueue("add").schedule_ms(1).send().await.unwrap();
    assert_eq!(job.outcome(), Some(EnqueueOutcome::Queued));
    assert_eq!(entries(&keys, 5).await.len(), 1);
}

#[tokio::test]
async fn priority_picks_the_stream() {
    let (client, keys) = common::client("priority").await;
    client.enqueue("high").priority(9).send().await.unwrap();
    client.enqueue("low").priority(0).send().await.unwrap();
    let high = entries(&keys, 9).await;
    let low = entries(&keys, 0).await;
    assert_eq!((high.len(), low.len()), (1, 1));
    assert_eq!(high[0].1[3], b"high");
    assert_eq!(low[0].1[3], b"low");
    assert_eq!(total_stream_length(&keys).await, 2);
}

#[tokio::test]
async fn enqueue_many_splits_into_batches_and_answers_in_order() {
    let (client, keys) = common::client("many").await;
    let mut requests: Vec<EnqueueRequest> = (0..2500)
        .map(|i| {
            EnqueueRequest::new("add")
                .args((i, 1))
                .unwrap()
                .job_id(format!("job-{i}"))
        })
        .collect();
    // A repeat of an id in the same call, and a delayed job.
    requests.push(EnqueueRequest::new("add").job_id("job-7"));
    requests.push(
        EnqueueRequest::new("add")
            .job_id("later")
            .delay(Duration::from_secs(600)),
    );
    let jobs = client.enqueue_many(requests).await.unwrap();

    assert_eq!(jobs.len(), 2502);
    for (i, job) in jobs.iter().take(2500).enumerate() {
        assert_eq!(job.id(), format!("job-{i}"));
        assert_eq!(job.outcome(), Some(EnqueueOutcome::Queued));
    }
    assert!(jobs[2500].is_duplicate());
    assert_eq!(jobs[2501].outcome(), Some(EnqueueOutcome::Scheduled));
    assert_eq!(total_stream_length(&keys).await, 2500);
    let stream = entries(&keys, 5).await;
    assert_eq!(stream[0].1[1], b"job-0");
    assert_eq!(stream[2499].1[1], b"job-2499");
}

#[tokio::test]
async fn an_invalid_job_fails_the_whole_batch_before_anything_is_written() {
    let (client, keys) = common::client("invalid-batch").await;
    let requests = vec![
        EnqueueRequest::new("add").job_id("a"),
        EnqueueRequest::new("add").job_id("b").priority(10),
        EnqueueRequest::new("add").job_id("c"),
    ];
    let err = client.enqueue_many(requests).await.unwrap_err();
    assert!(matches!(err, Error::InvalidPriority(_)), "{err:?}");
    assert_eq!(queue_keys(&keys).await, Vec::<String>::new());
}

#[tokio::test]
async fn values_outside_the_type_table_are_typed_errors_with_a_path() {
    let (client, _keys) = common::client("unsupported").await;
    let err = client.enqueue("add").args((1, u64::MAX)).unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedValue { path, .. } if path == "args[1]"),
        "{err:?}"
    );
    let mut inner = BTreeMap::new();
    inner.insert(1, "x");
    let mut kwargs = BTreeMap::new();
    kwargs.insert("when", inner);
    let err = client.enqueue("add").kwargs(&kwargs).unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedValue { path, what } if path == "kwargs.when" && what.contains("not a string")),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_options_are_typed_errors_and_write_nothing() {
    let (client, keys) = common::client("invalid").await;
    let big = serde_bytes::ByteBuf::from(vec![b'a'; 1 << 20]);
    let cases = vec![
        (client.enqueue("").send().await, "InvalidTaskName"),
        (
            client.enqueue("t").job_id("a b").send().await,
            "InvalidJobId",
        ),
        (
            client.enqueue("t").priority(-1).send().await,
            "InvalidPriority",
        ),
        (
            client.enqueue("t").delay_ms(-1).send().await,
            "InvalidDelay",
        ),
        (
            client.enqueue("t").args((big,)).unwrap().send().await,
            "PayloadTooLarge",
        ),
    ];
    for (result, expected) in cases {
        let err = result.unwrap_err();
        let name = match err {
            Error::InvalidTaskName(_) => "InvalidTaskName",
            Error::InvalidJobId(_) => "InvalidJobId",
            Error::InvalidPriority(_) => "InvalidPriority",
            Error::InvalidDelay(_) => "InvalidDelay",
            Error::PayloadTooLarge { .. } => "PayloadTooLarge",
            ref other => panic!("unexpected {other:?}"),
        };
        assert_eq!(name, expected);
    }
    assert_eq!(queue_keys(&keys).await, Vec::<String>::new());
}

#[tokio::test]
async fn enqueue_loads_the_script_again_after_a_script_cache_flush() {
    let (client, keys) = common::client("noscript").await;
    let mut redis = common::inspector().await;
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut redis)
        .await
        .unwrap();
    let job = client.enqueue("add").send().await.unwrap();
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut redis)
        .await
        .unwrap();
    let jobs = client
        .enqueue_many(vec![EnqueueRequest::new("add"); 3])
        .await
        .unwrap();
    assert_eq!(job.outcome(), Some(EnqueueOutcome::Queued));
    assert!(jobs
        .iter()
        .all(|job| job.outcome() == Some(EnqueueOutcome::Queued)));
    assert_eq!(total_stream_length(&keys).await, 4);
}
