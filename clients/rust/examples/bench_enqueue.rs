//! Batch-enqueue throughput: enqueues N jobs (first argument, default
//! 20,000) to a fresh queue on the Redis at `REDIS_URL` with
//! `Client::enqueue_many`, deletes the queue's keys, and prints
//! `{"jobs": N, "seconds": S, "jobs_per_s": R}`.
//!
//! `cargo run --release -p ardiq-client --example bench_enqueue -- 100000`

use std::time::Instant;

use ardiq_client::spec::QueueKeys;
use ardiq_client::{Client, EnqueueRequest};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let jobs: usize = match std::env::args().nth(1) {
        Some(n) => n
            .parse()
            .map_err(|_| format!("the job count must be a number, not {n:?}"))?,
        None => 20_000,
    };
    let url = std::env::var("REDIS_URL").map_err(|_| "REDIS_URL must name the Redis to use")?;
    let queue = format!("bench-enqueue-{}", ardiq_client::spec::new_job_id());
    let client = Client::connect_queue(&url, &queue).await?;

    // Building the requests is the caller's work, not the client's: untimed.
    let requests = (0..jobs)
        .map(|i| EnqueueRequest::new("add").args((i, 1)))
        .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    let handles = client.enqueue_many(requests).await?;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(handles.len(), jobs);

    cleanup(&url, &QueueKeys::new(&queue), &handles).await?;
    println!(
        "{{\"jobs\": {jobs}, \"seconds\": {seconds:.6}, \"jobs_per_s\": {:.1}}}",
        jobs as f64 / seconds
    );
    Ok(())
}

/// Deletes what the run wrote, so repeated runs do not fill the Redis.
async fn cleanup(
    url: &str,
    keys: &QueueKeys,
    handles: &[ardiq_client::Job],
) -> redis::RedisResult<()> {
    let mut redis = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let mut pipe = redis::pipe();
    for chunk in handles.chunks(1000) {
        let mut del = redis::cmd("DEL");
        for job in chunk {
            del.arg(keys.job(job.id()));
        }
        pipe.add_command(del).ignore();
    }
    let mut del = redis::cmd("DEL");
    del.arg(keys.streams_low_to_high());
    pipe.add_command(del).ignore();
    pipe.exec_async(&mut redis).await
}
