//! Waiting for a result (SPEC.md section 15) against a real Redis, with no
//! worker: the test writes the terminal record and publishes `done:<id>` the
//! way a worker's `finish.lua` does. One test binary, one test function: the
//! status reads are counted on the server, so nothing else may run meanwhile.

mod common;

use std::time::Duration;

use ardiq_client::spec::{State, Status, Value};
use prost::Message as _;
use redis::AsyncCommands as _;

const WAIT: Duration = Duration::from_secs(5);

async fn finish(keys: &ardiq_client::spec::QueueKeys, id: &str, status: &Status) {
    let mut redis = common::inspector().await;
    let () = redis
        .set_ex(keys.job(id), status.encode_to_vec(), 600)
        .await
        .unwrap();
}

fn packed(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ardiq_client::spec::value::encode(value, &mut out);
    out
}

/// How many times `status.lua` has read a status so far (its `HEXISTS`).
async fn status_reads() -> i64 {
    let mut redis = common::inspector().await;
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut redis)
        .await
        .unwrap();
    stats
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_hexists:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

#[tokio::test]
async fn a_waiting_result_is_woken_by_done_and_without_it_by_its_fallback() {
    woken_by_done().await;
    woken_by_the_fallback().await;
}

async fn woken_by_done() {
    let (client, keys) = common::client("wait-told").await;
    let job = client.enqueue("add").send().await.unwrap();
    let waiting = tokio::spawn({
        let job = job.clone();
        async move { job.result::<i64>(WAIT).await }
    });
    // Until the wait is registered nobody could tell it.
    let mut redis = common::inspector().await;
    let deadline = std::time::Instant::now() + WAIT;
    while redis
        .zscore::<_, _, Option<f64>>(keys.waiters(), job.id())
        .await
        .unwrap()
        .is_none()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the wait was never registered"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = status_reads().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let complete = Status {
        value: packed(&Value::Int(7)),
        attempts: 1,
        ..Status::with_state(State::Complete)
    };
    finish(&keys, job.id(), &complete).await;
    let () = redis
        .publish(keys.events(), format!("done:{}", job.id()))
        .await
        .unwrap();
    assert_eq!(waiting.await.unwrap().unwrap(), 7);
    // The fallback reads once a second (2 in 2.5 s), then the message: a
    // poll would have read dozens of times.
    let reads = status_reads().await - before;
    assert!(reads <= 4, "{reads} status reads while waiting 2.5 s");
}

async fn woken_by_the_fallback() {
    let (client, keys) = common::client("wait-untold").await;
    let job = client.enqueue("add").send().await.unwrap();
    let waiting = tokio::spawn({
        let job = job.clone();
        async move { job.result::<i64>(WAIT).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let complete = Status {
        value: packed(&Value::Int(8)),
        ..Status::with_state(State::Complete)
    };
    finish(&keys, job.id(), &complete).await; // and no done:<id>
    assert_eq!(waiting.await.unwrap().unwrap(), 8);
}
