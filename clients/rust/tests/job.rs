//! Job handles against a real Redis: status derivation (`status.lua`),
//! results read from terminal status records, and aborts (`abort.lua`).
//! Terminal records are written here the way SPEC.md section 6 says a
//! worker writes them, so these tests need no worker.

mod common;

use std::time::Duration;

use ardiq_client::spec::{Error as RemoteError, QueueKeys, State, Status, Value};
use ardiq_client::{AbortOutcome, Error, JobStatus};
use prost::Message as _;
use redis::AsyncCommands as _;
use serde::Deserialize;

/// Stores a terminal status record for `id`, as a worker's `finish.lua` would.
async fn finish(keys: &QueueKeys, id: &str, status: &Status) {
    let mut redis = common::inspector().await;
    let () = redis
        .set_ex(keys.job(id), status.encode_to_vec(), 600)
        .await
        .unwrap();
}

fn failed(state: State, remote_type: &str, message: &str) -> Status {
    Status {
        error: Some(RemoteError {
            r#type: remote_type.into(),
            message: message.into(),
            traceback: "Traceback (most recent call last):\n  ...".into(),
        }),
        attempts: 1,
        ..Status::with_state(state)
    }
}

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn status_follows_the_status_key_the_running_hash_and_the_record() {
    let (client, keys) = common::client("status").await;
    assert_eq!(
        client.job("nobody").status().await.unwrap(),
        JobStatus::NotFound
    );

    let job = client.enqueue("add").send().await.unwrap();
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);

    let mut redis = common::inspector().await;
    let () = redis
        .hset(keys.running(), job.id(), "worker-1")
        .await
        .unwrap();
    assert_eq!(job.status().await.unwrap(), JobStatus::Running);

    let () = redis.hdel(keys.running(), job.id()).await.unwrap();
    finish(&keys, job.id(), &Status::with_state(State::Complete)).await;
    assert_eq!(job.status().await.unwrap(), JobStatus::Complete);
    let record = job.status_record().await.unwrap().unwrap();
    assert_eq!(record.state, State::Complete as i32);
}

#[derive(Debug, Deserialize, PartialEq)]
struct Sum {
    total: i64,
    parts: Vec<f64>,
    note: Option<String>,
}

#[tokio::test]
async fn result_reads_the_stored_value_as_any_deserializable_type() {
    let (client, keys) = common::client("result").await;
    let job = client.enqueue("sum").send().await.unwrap();
    let value = Value::Map(vec![
        ("total".into(), Value::Int(3)),
        (
            "parts".into(),
            Value::Array(vec![Value::Float(1.0), Value::Float(2.0)]),
        ),
        ("note".into(), Value::Nil),
    ]);
    let status = Status {
        value: ardiq_client::spec::value::to_vec(&value),
        ..Status::with_state(State::Complete)
    };
    finish(&keys, job.id(), &status).await;

    let sum: Sum = job.result(WAIT).await.unwrap();
    assert_eq!(
        sum,
        Sum {
            total: 3,
            parts: vec![1.0, 2.0],
            note: None
        }
    );
    assert_eq!(job.result_value(WAIT).await.unwrap(), value);
    let err = job.result::<String>(WAIT).await.unwrap_err();
    assert!(matches!(err, Error::UnexpectedResult(_)), "{err:?}");
}

#[tokio::test]
async fn result_of_a_failed_job_carries_the_remote_error() {
    let (client, keys) = common::client("failed").await;
    let job = client.enqueue("fail").send().await.unwrap();
    finish(
        &keys,
        job.id(),
        &failed(State::Failed, "ValueError", "bad input"),
    )
    .await;
    let err = job.result::<i64>(WAIT).await.unwrap_err();
    match err {
        Error::JobFailed {
            remote_type,
            message,
            traceback,
        } => {
            assert_eq!(remote_type, "ValueError");
            assert_eq!(message, "bad input");
            assert!(traceback.starts_with("Traceback"));
        }
        other => panic!("expected JobFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn result_of_a_dead_job_is_a_failure_of_type_dead_letter() {
    let (client, keys) = common::client("dead").await;
    let job = client.enqueue("nope").send().await.unwrap();
    finish(
        &keys,
        job.id(),
        &failed(State::Dead, "DeadLetter", "unknown_task: nope"),
    )
    .await;
    assert_eq!(job.status().await.unwrap(), JobStatus::Dead);
    let err = job.result_value(WAIT).await.unwrap_err();
    assert!(
        matches!(&err, Error::JobFailed { remote_type, message, .. }
            if remote_type == "DeadLetter" && message == "unknown_task: nope"),
        "{err:?}"
    );
}

#[tokio::test]
async fn result_times_out_while_the_job_has_not_finished() {
    let (client, _keys) = common::client("timeout").await;
    let job = client.enqueue("add").send().await.unwrap();
    let err = job
        .result_value(Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);
}

#[tokio::test]
async fn a_queued_or_scheduled_job_is_never_not_found_while_waited_on() {
    let (client, _keys) = common::client("waits-found").await;
    let queued = client.enqueue("add").send().await.unwrap();
    let scheduled = client
        .enqueue("add")
        .delay(Duration::from_secs(3600))
        .send()
        .await
        .unwrap();
    for job in [queued, scheduled] {
        let err = job
            .result_value(Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Timeout), "{err:?}");
    }
}

#[tokio::test]
async fn result_of_a_job_without_a_status_key_is_job_not_found_at_once() {
    let (client, keys) = common::client("not-found").await;
    let err = client
        .job("no-such-job")
        .result_value(Duration::MAX)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::JobNotFound), "{err:?}");

    // A result TTL of 0: the worker's `finish.lua` deletes the status key.
    let job = client
        .enqueue("add")
        .result_ttl(Duration::ZERO)
        .send()
        .await
        .unwrap();
    let waiting = tokio::spawn({
        let job = job.clone();
        async move { job.result::<i64>(Duration::from_secs(600)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut redis = common::inspector().await;
    let () = redis.del(keys.job(job.id())).await.unwrap();
    let err = tokio::time::timeout(WAIT, waiting)
        .await
        .expect("the wait ends before its timeout")
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::JobNotFound), "{err:?}");
}

#[tokio::test]
async fn result_with_the_longest_timeout_waits_without_a_deadline() {
    let (client, keys) = common::client("no-deadline").await;
    let job = client.enqueue("add").send().await.unwrap();
    let complete = Status {
        value: {
            let mut out = Vec::new();
            ardiq_client::spec::value::encode(&Value::Int(3), &mut out);
            out
        },
        ..Status::with_state(State::Complete)
    };
    finish(&keys, job.id(), &complete).await;
    assert_eq!(job.result::<i64>(Duration::MAX).await.unwrap(), 3);
}

#[tokio::test]
async fn abort_of_a_scheduled_job_aborts_it_at_once() {
    let (client, keys) = common::client("abort-scheduled").await;
    let job = client
        .enqueue("add")
        .delay(Duration::from_secs(3600))
        .send()
        .await
        .unwrap();
    assert_eq!(job.abort().await.unwrap(), AbortOutcome::Aborted);

    let mut redis = common::inspector().await;
    let delayed: usize = redis.zcard(keys.delayed()).await.unwrap();
    let records: usize = redis.hlen(keys.delayed_jobs()).await.unwrap();
    assert_eq!((delayed, records), (0, 0));
    let ttl: i64 = redis.pttl(keys.job(job.id())).await.unwrap();
    assert!(ttl > 0, "an aborted status keeps the result TTL, got {ttl}");
    let record = job.status_record().await.unwrap().unwrap();
    let error = record.error.unwrap();
    assert_eq!(
        (error.r#type.as_str(), error.message.as_str()),
        ("JobAborted", "aborted before it ran")
    );
    assert!(record.finished_ms > 0);

    assert_eq!(job.status().await.unwrap(), JobStatus::Aborted);
    assert!(matches!(
        job.result_value(WAIT).await,
        Err(Error::JobAborted)
    ));
    assert_eq!(job.abort().await.unwrap(), AbortOutcome::Aborted);
}

#[tokio::test]
async fn abort_with_a_result_ttl_of_zero_leaves_no_status() {
    let (client, _keys) = common::client("abort-ttl0").await;
    let job = client.enqueue("add").delay(Duration::from_secs(3600));
    let job = job.result_ttl(Duration::ZERO).send().await.unwrap();
    assert_eq!(job.abort().await.unwrap(), AbortOutcome::Aborted);
    assert_eq!(job.status().await.unwrap(), JobStatus::NotFound);
}

#[tokio::test]
async fn abort_of_a_queued_job_files_a_request_for_the_worker() {
    let (client, keys) = common::client("abort-queued").await;
    let job = client.enqueue("add").send().await.unwrap();
    assert_eq!(
        client.job(job.id()).abort().await.unwrap(),
        AbortOutcome::Requested
    );
    let mut redis = common::inspector().await;
    let requested: bool = redis.sismember(keys.abort(), job.id()).await.unwrap();
    assert!(requested);
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);
}

#[tokio::test]
async fn abort_leaves_unknown_and_finished_jobs_alone() {
    let (client, keys) = common::client("abort-finished").await;
    assert_eq!(
        client.job("ghost").abort().await.unwrap(),
        AbortOutcome::NotFound
    );
    let job = client.enqueue("add").send().await.unwrap();
    finish(&keys, job.id(), &Status::with_state(State::Complete)).await;
    assert_eq!(job.abort().await.unwrap(), AbortOutcome::Complete);
    assert_eq!(job.status().await.unwrap(), JobStatus::Complete);
}

#[tokio::test]
async fn an_expired_job_reads_expired_and_its_result_is_job_expired() {
    let (client, keys) = common::client("expired").await;
    let job = client.job("gone-by");
    let expired = Status {
        spec_version: "1.1".into(),
        error: Some(RemoteError {
            r#type: "JobExpired".into(),
            message: "not started before its expiry at 1".into(),
            traceback: String::new(),
        }),
        ..Status::with_state(State::Expired)
    };
    finish(&keys, "gone-by", &expired).await;
    assert_eq!(job.status().await.unwrap(), JobStatus::Expired);
    assert!(matches!(
        job.result::<i64>(WAIT).await,
        Err(Error::JobExpired)
    ));
    assert_eq!(job.abort().await.unwrap(), AbortOutcome::Expired);
}
