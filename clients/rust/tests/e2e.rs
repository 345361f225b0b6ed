//! End to end: the Python worker (`python -m ardiq run e2e_tasks:app`)
//! runs jobs this client enqueued, and the client reads their results,
//! failures and aborts. Needs the worker importable from `.venv` (`make
//! build-dev`) and `REDIS_URL`; `cargo test` leaves it out (`test = false`),
//! `make test-rust-e2e` runs it.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use ardiq_client::spec::Value;
use ardiq_client::{AbortOutcome, Client, EnqueueRequest, Error, JobStatus};
use serde::{Deserialize, Serialize};

/// Generous bounds on waiting for the worker; they only stop a hung test.
const RESULT_WAIT: Duration = Duration::from_secs(60);
const EXIT_WAIT: Duration = Duration::from_secs(90);

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A worker process for one queue; killed if a test ends without stopping it.
struct Worker {
    child: Option<Child>,
}

impl Worker {
    fn start(queue: &str, burst: bool) -> Self {
        Self::start_with(queue, burst, &[])
    }

    /// A worker with more environment variables.
    fn start_with(queue: &str, burst: bool, env: &[(&str, &str)]) -> Self {
        let root = repo_root();
        let python = root.join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run `make build-dev` to install the ardiq worker",
            python.display()
        );
        let mut command = Command::new(python);
        command
            .args(["-m", "ardiq", "run", "e2e_tasks:app"])
            .current_dir(root.join("tests"))
            .env("ARDIQ_REDIS_URL", common::redis_url())
            .env("ARDIQ_QUEUE", queue)
            .envs(env.iter().copied());
        if burst {
            command.arg("--burst");
        }
        let child = command.spawn().expect("start the ardiq worker");
        Self { child: Some(child) }
    }

    /// Waits for the worker to exit by itself and returns how it exited.
    fn wait(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("a running worker");
        let deadline = Instant::now() + EXIT_WAIT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the worker did not exit within {EXIT_WAIT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asks the worker to shut down (SIGTERM) and waits for it.
    fn terminate(self) -> ExitStatus {
        let pid = self.child.as_ref().expect("a running worker").id();
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM {pid} failed");
        self.wait()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn client(label: &str) -> (Client, String) {
    let queue = common::fresh_queue(label);
    let client = Client::connect_queue(&common::redis_url(), &queue)
        .await
        .unwrap();
    (client, queue)
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Parcel {
    name: String,
    weight: f64,
    tags: Vec<String>,
    #[serde(with = "serde_bytes")]
    label: Vec<u8>,
    note: Option<String>,
    count: i64,
}

#[tokio::test]
async fn the_worker_runs_jobs_enqueued_from_rust() {
    let (client, queue) = client("e2e-run").await;
    let parcel = Parcel {
        name: "żółw".into(),
        weight: 1.5,
        tags: vec!["a".into(), "b".into()],
        label: vec![0, 159, 255],
        note: None,
        count: i64::MIN,
    };
    let add = client
        .enqueue("add")
        .args((2, 3))
        .unwrap()
        .send()
        .await
        .unwrap();
    let echo = client
        .enqueue("echo")
        .args((&parcel,))
        .unwrap()
        .send()
        .await
        .unwrap();
    let kwargs = Named {
        x: 1,
        y: "two".into(),
    };
    let kwargs_echo = client.enqueue("kwargs_echo").kwargs(&kwargs).unwrap();
    let kwargs_echo = kwargs_echo.send().await.unwrap();
    let sync_add = client
        .enqueue("sync_add")
        .args((40, 2))
        .unwrap()
        .priority(9)
        .send()
        .await;
    let sync_add = sync_add.unwrap();
    let batch: Vec<EnqueueRequest> = (0..50)
        .map(|i| EnqueueRequest::new("add").args((i, i)).unwrap())
        .collect();
    let batch = client.enqueue_many(batch).await.unwrap();

    let status = Worker::start(&queue, true).wait();
    assert!(status.success(), "the burst worker exited with {status}");

    assert_eq!(add.result::<i64>(RESULT_WAIT).await.unwrap(), 5);
    assert_eq!(echo.result::<Parcel>(RESULT_WAIT).await.unwrap(), parcel);
    assert_eq!(
        kwargs_echo.result::<Named>(RESULT_WAIT).await.unwrap(),
        kwargs
    );
    let raw = kwargs_echo.result_value(RESULT_WAIT).await.unwrap();
    let mut entries = match raw {
        Value::Map(entries) => entries,
        other => panic!("kwargs_echo returned {other:?}"),
    };
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        entries,
        [
            ("x".to_owned(), Value::Int(1)),
            ("y".to_owned(), Value::Str("two".into()))
        ]
    );
    assert_eq!(sync_add.result::<i64>(RESULT_WAIT).await.unwrap(), 42);
    for (i, job) in (0i64..).zip(&batch) {
        assert_eq!(job.result::<i64>(RESULT_WAIT).await.unwrap(), 2 * i);
        assert_eq!(job.status().await.unwrap(), JobStatus::Complete);
    }
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Named {
    x: i64,
    y: String,
}

#[tokio::test]
async fn a_raised_exception_arrives_as_job_failed_with_its_traceback() {
    let (client, queue) = client("e2e-fail").await;
    let job = client
        .enqueue("fail")
        .args(("no such parcel",))
        .unwrap()
        .max_retries(0);
    let job = job.send().await.unwrap();

    let status = Worker::start(&queue, true).wait();
    assert!(status.success(), "the burst worker exited with {status}");

    match job.result_value(RESULT_WAIT).await.unwrap_err() {
        Error::JobFailed {
            remote_type,
            message,
            traceback,
        } => {
            assert_eq!(remote_type, "ValueError");
            assert_eq!(message, "no such parcel");
            assert!(!traceback.is_empty(), "the traceback crosses too");
        }
        other => panic!("expected JobFailed, got {other:?}"),
    }
    assert_eq!(job.status().await.unwrap(), JobStatus::Failed);
}

#[tokio::test]
async fn an_aborted_scheduled_job_never_runs() {
    let (client, queue) = client("e2e-abort-scheduled").await;
    let job = client
        .enqueue("add")
        .args((1, 1))
        .unwrap()
        .delay(Duration::from_secs(3600));
    let job = job.send().await.unwrap();
    let marker = client
        .enqueue("add")
        .args((1, 2))
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(job.abort().await.unwrap(), AbortOutcome::Aborted);

    let status = Worker::start(&queue, true).wait();
    assert!(status.success(), "the burst worker exited with {status}");

    assert_eq!(marker.result::<i64>(RESULT_WAIT).await.unwrap(), 3);
    assert!(matches!(
        job.result::<i64>(RESULT_WAIT).await,
        Err(Error::JobAborted)
    ));
    assert_eq!(job.status().await.unwrap(), JobStatus::Aborted);
}

#[tokio::test]
async fn a_running_job_is_aborted_by_its_worker() {
    let (client, queue) = client("e2e-abort-running").await;
    let worker = Worker::start(&queue, false);
    let job = client
        .enqueue("sleep")
        .args((30.0,))
        .unwrap()
        .max_retries(0)
        .send()
        .await
        .unwrap();

    let deadline = Instant::now() + RESULT_WAIT;
    loop {
        match job.status().await.unwrap() {
            JobStatus::Running => break,
            JobStatus::Queued => {}
            other => panic!("the sleep job became {other} before it was aborted"),
        }
        assert!(
            Instant::now() < deadline,
            "the worker never started the sleep job"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(job.abort().await.unwrap(), AbortOutcome::Requested);
    assert!(matches!(
        job.result::<f64>(RESULT_WAIT).await,
        Err(Error::JobAborted)
    ));
    assert_eq!(job.status().await.unwrap(), JobStatus::Aborted);

    let status = worker.terminate();
    assert!(
        status.success(),
        "the worker exited with {status} after SIGTERM"
    );
}

/// A span the worker finished, as `finished_spans` (tests/e2e_tasks.py) tells it.
#[cfg(feature = "opentelemetry")]
#[derive(Debug, Deserialize)]
struct FinishedSpan {
    name: String,
    kind: String,
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    attributes: std::collections::BTreeMap<String, Attribute>,
}

/// A span attribute's value: text or an integer.
#[cfg(feature = "opentelemetry")]
#[derive(Debug, Deserialize, PartialEq)]
#[serde(untagged)]
enum Attribute {
    Text(String),
    Int(i64),
}

#[cfg(feature = "opentelemetry")]
#[tokio::test]
async fn the_python_task_span_continues_the_rust_producer_span() {
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let (client, queue) = client("e2e-trace").await;
    let worker = Worker::start_with(&queue, false, &[("ARDIQ_TRACED_WORKER", "1")]);

    let context =
        opentelemetry::Context::current_with_span(provider.tracer("producer").start("enqueue"));
    let job = {
        let _attached = context.clone().attach();
        client
            .enqueue("traced_echo")
            .args(("hi",))
            .unwrap()
            .send()
            .await
            .unwrap()
    };
    context.span().end();
    let echoed: String = job.result(RESULT_WAIT).await.unwrap();
    let spans: Vec<FinishedSpan> = client
        .enqueue("finished_spans")
        .send()
        .await
        .unwrap()
        .result(RESULT_WAIT)
        .await
        .unwrap();
    assert!(worker.terminate().success());

    assert_eq!(echoed, "hi");
    let [producer] = exporter.get_finished_spans().unwrap().try_into().unwrap();
    let run = spans
        .iter()
        .find(|span| {
            span.attributes.get("messaging.message.id") == Some(&Attribute::Text(job.id().into()))
        })
        .unwrap_or_else(|| panic!("no span of job {} among {spans:?}", job.id()));
    assert_eq!(run.kind, "CONSUMER");
    assert_eq!(run.name, format!("process {queue}"));
    assert_eq!(run.trace_id, producer.span_context.trace_id().to_string());
    assert_eq!(
        run.parent_span_id.as_deref(),
        Some(producer.span_context.span_id().to_string().as_str())
    );
    let inside = spans
        .iter()
        .find(|span| span.name == "inside the task")
        .unwrap();
    assert_eq!(inside.trace_id, run.trace_id);
    assert_eq!(inside.parent_span_id.as_deref(), Some(run.span_id.as_str()));
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_job_no_worker_started_before_its_expiry_ends_expired() {
    let (client, queue) = client("e2e-expiry").await;
    let expiring = client
        .enqueue("add")
        .args((1, 1))
        .unwrap()
        .expires_ms(now_ms() + 200)
        .send()
        .await
        .unwrap();
    let lasting = client
        .enqueue("add")
        .args((2, 2))
        .unwrap()
        .expires_at(std::time::SystemTime::now() + Duration::from_secs(600))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let status = Worker::start(&queue, true).wait();
    assert!(status.success(), "the burst worker exited with {status}");

    assert!(matches!(
        expiring.result::<i64>(RESULT_WAIT).await,
        Err(Error::JobExpired)
    ));
    assert_eq!(expiring.status().await.unwrap(), JobStatus::Expired);
    let record = expiring.status_record().await.unwrap().unwrap();
    assert_eq!(record.started_ms, 0, "an expired job never starts");
    assert_eq!(lasting.result::<i64>(RESULT_WAIT).await.unwrap(), 4);
    assert!(matches!(
        client.enqueue("add").expires_ms(now_ms() - 1).send().await,
        Err(Error::InvalidOption(_))
    ));
}

#[tokio::test]
async fn progress_is_read_while_the_job_runs_and_with_its_result() {
    let (client, queue) = client("e2e-progress").await;
    let worker = Worker::start(&queue, false);
    let job = client
        .enqueue("report")
        .args((8, 0.2))
        .unwrap()
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + RESULT_WAIT;
    let seen = loop {
        if let Some(progress) = job.progress().await.unwrap() {
            if progress.fraction > 0.0 && progress.fraction < 1.0 {
                break progress;
            }
        }
        assert!(Instant::now() < deadline, "no progress seen while it ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(seen.message.starts_with("step "), "{seen:?}");
    assert_eq!(job.status().await.unwrap(), JobStatus::Running);
    assert_eq!(job.result::<i64>(RESULT_WAIT).await.unwrap(), 8);
    let last = job.progress().await.unwrap().unwrap();
    assert!((last.fraction - 1.0).abs() < f64::EPSILON);
    assert_eq!(last.message, "step 8 of 8");

    let status = worker.terminate();
    assert!(status.success(), "the worker exited with {status}");
}
