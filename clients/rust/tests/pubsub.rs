//! The client's one pub/sub connection (SPEC.md section 15) against a real
//! Redis: waits that start together share one subscriber, and a subscriber
//! that cannot connect is tried again once a second, not on every poll. One
//! test binary, one test function: the subscriber connections are counted
//! on the server, so nothing else may run meanwhile.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ardiq_client::{Client, Error};
use futures::future::join_all;
use tokio::net::{TcpListener, TcpStream};

/// Connections of the test Redis subscribed to at least one channel.
async fn subscribers() -> usize {
    let mut redis = common::inspector().await;
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut redis)
        .await
        .unwrap();
    list.lines()
        .filter(|line| {
            line.split(' ')
                .find_map(|field| field.strip_prefix("sub="))
                .is_some_and(|n| n != "0")
        })
        .count()
}

#[tokio::test]
async fn waits_share_one_subscriber_connection() {
    concurrent_first_waits_open_one_subscriber().await;
    a_failed_subscriber_is_tried_again_once_a_second().await;
}

async fn concurrent_first_waits_open_one_subscriber() {
    let (client, _) = common::client("hub-race").await;
    let before = subscribers().await;
    for round in 0..2 {
        let mut jobs = Vec::new();
        for _ in 0..50 {
            jobs.push(client.enqueue("add").send().await.unwrap());
        }
        let waits = join_all(jobs.iter().map(|job| job.wait(Duration::from_millis(300)))).await;
        assert!(
            waits.iter().all(|wait| matches!(wait, Err(Error::Timeout))),
            "{waits:?}"
        );
        assert_eq!(subscribers().await, before + 1, "round {round}");
    }
}

/// Proxies connections to the test Redis until `allowed` of them have
/// been made; closes every later one at once. Counts them in `attempts`.
async fn refusing_proxy(attempts: Arc<AtomicUsize>, allowed: Arc<AtomicUsize>) -> String {
    let url = common::redis_url();
    let info = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection_info()
        .addr
        .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            if n > allowed.load(Ordering::SeqCst) {
                continue;
            }
            let mut outbound = TcpStream::connect(info.as_str()).await.unwrap();
            tokio::spawn(async move {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    format!("redis://127.0.0.1:{port}/0")
}

async fn a_failed_subscriber_is_tried_again_once_a_second() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let allowed = Arc::new(AtomicUsize::new(usize::MAX));
    let url = refusing_proxy(Arc::clone(&attempts), Arc::clone(&allowed)).await;
    let client = Client::connect_queue(&url, &common::fresh_queue("hub-refused"))
        .await
        .unwrap();
    let mut jobs = Vec::new();
    for _ in 0..10 {
        jobs.push(client.enqueue("add").send().await.unwrap());
    }
    // From now on only the connections made so far work.
    let before = attempts.load(Ordering::SeqCst);
    allowed.store(before, Ordering::SeqCst);
    let waits = join_all(jobs.iter().map(|job| job.wait(Duration::from_secs(3)))).await;
    assert!(
        waits.iter().all(|wait| matches!(wait, Err(Error::Timeout))),
        "{waits:?}"
    );
    // One attempt when the waits start, then one a second at most.
    let made = attempts.load(Ordering::SeqCst) - before;
    assert!((1..=4).contains(&made), "{made} connection attempts");
}
