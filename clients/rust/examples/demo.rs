//! The Rust producer of `make demo`: `demo enqueue` enqueues `add(40, 2)`
//! and prints the job id; `demo result <job id>` prints the job's result.
//! Reads the Redis URL from `REDIS_URL` and the queue from `ARDIQ_QUEUE`.

use std::time::Duration;

use ardiq_client::Client;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL")?;
    let queue = std::env::var("ARDIQ_QUEUE").unwrap_or_else(|_| "default".to_owned());
    let client = Client::connect_queue(&url, &queue).await?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("enqueue") => {
            let job = client.enqueue("add").args((40, 2))?.send().await?;
            println!("{}", job.id());
        }
        Some("result") => {
            let id = args.get(1).ok_or("usage: demo result <job id>")?;
            let sum: i64 = client.job(id).result(Duration::from_secs(30)).await?;
            println!("{sum}");
        }
        _ => return Err("usage: demo enqueue | demo result <job id>".into()),
    }
    Ok(())
}
