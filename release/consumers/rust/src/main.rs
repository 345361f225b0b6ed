//! Enqueues add(2, 3) through the packaged `ardiq-client` crate, waits for
//! the result and prints `ardiq-client-crate <version> <result>`.

use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("ARDIQ_REDIS_URL")?;
    let client = ardiq_client::Client::connect_queue(&url, "release-check").await?;
    let job = client.enqueue("add").args((2, 3))?.send().await?;
    let sum: i64 = job.result(Duration::from_secs(30)).await?;
    println!("ardiq-client-crate {} {sum}", ardiq_client::VERSION);
    Ok(())
}
