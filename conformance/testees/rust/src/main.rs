//! The conformance testee of the Rust client (`conformance/PROTOCOL.md`):
//! reads one JSON request per line on stdin, answers one JSON response per
//! line on stdout, and exits when stdin closes. Every operation goes through
//! `ardiq-client`'s public API; this program only translates JSON.

mod records;
mod typed;

use std::io::{BufRead, Write};
use std::time::Duration;

use ardiq_client::{Client, EnqueueRequest, Error, Job};
use serde_json::{json, Map, Value as Json};

use crate::typed::{from_hex, parse_pairs, to_hex, to_typed, Typed, TypedError, TypedMap};

/// A request that ends in something other than a value.
enum Failure {
    /// An error of the protocol's type list (or the closest name the client has).
    Error {
        kind: String,
        message: String,
        remote: Option<Json>,
    },
    /// The operation or value cannot be expressed here.
    Skipped(String),
}

impl Failure {
    fn new(kind: &str, message: impl Into<String>) -> Self {
        Self::Error {
            kind: kind.to_owned(),
            message: message.into(),
            remote: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new("BadRequest", message)
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        let kind = match &err {
            Error::UnsupportedValue { .. } => "UnsupportedValue",
            Error::InvalidTaskName(_) => "InvalidTaskName",
            Error::InvalidJobId(_) => "InvalidJobId",
            Error::InvalidQueueName(_) => "InvalidQueueName",
            Error::InvalidPriority(_) => "InvalidPriority",
            Error::InvalidDelay(_) => "InvalidDelay",
            Error::InvalidOption(_) => "InvalidOption",
            Error::PayloadTooLarge { .. } => "PayloadTooLarge",
            Error::InvalidUrl(_) => "InvalidUrl",
            Error::Connection(_) => "ConnectionError",
            Error::Authentication(_) => "AuthenticationError",
            Error::MalformedRecord(_) => "MalformedRecord",
            Error::JobFailed {
                remote_type,
                message,
                traceback,
            } => {
                return Self::Error {
                    kind: "JobFailed".to_owned(),
                    message: format!("{remote_type}: {message}"),
                    remote: Some(json!({
                        "type": remote_type, "message": message, "traceback": traceback
                    })),
                }
            }
            Error::JobAborted => "JobAborted",
            Error::JobExpired => "JobExpired",
            Error::JobNotFound => "JobNotFound",
            Error::Timeout => "Timeout",
            Error::UnexpectedResult(_) => "UnexpectedResult",
            _ => "RedisError",
        };
        Self::new(kind, message)
    }
}

impl From<TypedError> for Failure {
    fn from(err: TypedError) -> Self {
        match err {
            TypedError::Bad(message) => Self::bad_request(message),
            TypedError::Inexpressible(kind) => Self::Skipped(format!(
                "Rust has no value of kind {kind:?} to pass to serde"
            )),
        }
    }
}

type Outcome = Result<Json, Failure>;

struct Testee {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut testee = Testee {
        runtime,
        client: None,
    };
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let response = match parse_request(&line) {
            Ok(request) => testee.answer(&request),
            Err(err) => json!({
                "id": null,
                "result": "error",
                "error": {"type": "BadRequest", "message": format!("not JSON: {err}")}
            }),
        };
        let written = writeln!(stdout, "{response}").and_then(|()| stdout.flush());
        if written.is_err() {
            break;
        }
    }
}

/// Parses one request line. Typed values nest two JSON levels per value
/// level, so the default recursion limit of 128 would refuse the deepest
/// values the spec allows.
fn parse_request(line: &str) -> serde_json::Result<Json> {
    use serde::Deserialize as _;
    let mut deserializer = serde_json::Deserializer::from_str(line);
    deserializer.disable_recursion_limit();
    let request = Json::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(request)
}

impl Testee {
    fn answer(&mut self, request: &Json) -> Json {
        let id = request.get("id").cloned().unwrap_or(Json::Null);
        let op = request.get("op").and_then(Json::as_str).unwrap_or_default();
        match self.run(op, request) {
            Ok(value) => json!({"id": id, "result": "ok", "value": value}),
            Err(Failure::Skipped(reason)) => {
                json!({"id": id, "result": "skipped", "reason": reason})
            }
            Err(Failure::Error {
                kind,
                message,
                remote,
            }) => {
                let mut error = json!({"type": kind, "message": message});
                if let Some(remote) = remote {
                    error["remote"] = remote;
                }
                json!({"id": id, "result": "error", "error": error})
            }
        }
    }

    fn run(&mut self, op: &str, request: &Json) -> Outcome {
        match op {
            "encode_value" => encode_value(request),
            "decode_value" => decode_value(request),
            "encode_record" => encode_record(request),
            "decode_record" => decode_record(request),
            "build_enqueue" => build_enqueue(request),
            "connect" => self.connect(request),
            "close" => {
                self.client = None;
                Ok(Json::Null)
            }
            "enqueue" => {
                let job_request = enqueue_request(request)?;
                let client = self.client()?;
                let job = self.runtime.block_on(client.enqueue_request(job_request))?;
                Ok(job_json(&job))
            }
            "enqueue_many" => {
                let jobs = request
                    .get("jobs")
                    .and_then(Json::as_array)
                    .ok_or_else(|| Failure::bad_request("jobs must be a list"))?;
                let requests = jobs
                    .iter()
                    .map(enqueue_request)
                    .collect::<Result<Vec<_>, _>>()?;
                let client = self.client()?;
                let jobs = self.runtime.block_on(client.enqueue_many(requests))?;
                Ok(Json::Array(jobs.iter().map(job_json).collect()))
            }
            "status" => {
                let job = self.client()?.job(str_arg(request, "job_id")?);
                Ok(json!(self.runtime.block_on(job.status())?.as_str()))
            }
            "result" => {
                let job = self.client()?.job(str_arg(request, "job_id")?);
                let timeout_ms = request
                    .get("timeout_ms")
                    .and_then(Json::as_u64)
                    .ok_or_else(|| Failure::bad_request("timeout_ms must be a non-negative int"))?;
                let value = self
                    .runtime
                    .block_on(job.result_value(Duration::from_millis(timeout_ms)))?;
                Ok(to_typed(&value))
            }
            "progress" => {
                let job = self.client()?.job(str_arg(request, "job_id")?);
                Ok(match self.runtime.block_on(job.progress())? {
                    Some(progress) => json!({
                        "fraction": progress.fraction,
                        "message": progress.message,
                        "updated_ms": progress.updated_ms.to_string(),
                    }),
                    None => Json::Null,
                })
            }
            "abort" => {
                let job = self.client()?.job(str_arg(request, "job_id")?);
                Ok(json!(self.runtime.block_on(job.abort())?.as_str()))
            }
            other => Err(Failure::Skipped(format!("unknown op {other:?}"))),
        }
    }

    fn connect(&mut self, request: &Json) -> Outcome {
        let url = str_arg(request, "url")?;
        let queue = str_arg(request, "queue")?;
        let client = self.runtime.block_on(Client::connect_queue(url, queue))?;
        let want_cluster = request
            .get("cluster")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        if want_cluster && !client.is_cluster() {
            return Err(Failure::new(
                "ConnectionError",
                format!("{url} is not a cluster node"),
            ));
        }
        self.client = Some(client);
        Ok(Json::Null)
    }

    fn client(&self) -> Result<Client, Failure> {
        self.client
            .clone()
            .ok_or_else(|| Failure::new("NotConnected", "connect first"))
    }
}

fn job_json(job: &Job) -> Json {
    json!({"job_id": job.id(), "outcome": job.outcome().map(ardiq_client::EnqueueOutcome::as_str)})
}

fn str_arg<'a>(request: &'a Json, name: &str) -> Result<&'a str, Failure> {
    request
        .get(name)
        .and_then(Json::as_str)
        .ok_or_else(|| Failure::bad_request(format!("{name} must be a string")))
}

fn encode_value(request: &Json) -> Outcome {
    let value = Typed::parse(request.get("value").unwrap_or(&Json::Null))?;
    let value = ardiq_client::value::to_value(&value, "$")?;
    Ok(json!(to_hex(&ardiq_client::spec::value::to_vec(&value))))
}

fn decode_value(request: &Json) -> Outcome {
    let bytes = from_hex(str_arg(request, "hex")?).ok_or_else(|| Failure::bad_request("hex"))?;
    let value = ardiq_client::spec::value::decode(&bytes).map_err(Error::from)?;
    Ok(to_typed(&value))
}

fn encode_record(request: &Json) -> Outcome {
    let message = str_arg(request, "message")?;
    let fields = request
        .get("fields")
        .and_then(Json::as_object)
        .ok_or_else(|| Failure::bad_request("fields must be an object"))?;
    let bytes = records::encode(message, fields).map_err(Failure::bad_request)?;
    Ok(json!(to_hex(&bytes)))
}

fn decode_record(request: &Json) -> Outcome {
    let message = str_arg(request, "message")?;
    let bytes = from_hex(str_arg(request, "hex")?).ok_or_else(|| Failure::bad_request("hex"))?;
    match records::decode(message, &bytes) {
        Ok(fields) => Ok(Json::Object(fields)),
        Err(records::DecodeError::Malformed(detail)) => {
            Err(Failure::new("MalformedRecord", detail))
        }
        Err(records::DecodeError::UnknownMessage(name)) => {
            Err(Failure::bad_request(format!("unknown message {name:?}")))
        }
    }
}

fn build_enqueue(request: &Json) -> Outcome {
    let queue = str_arg(request, "queue")?;
    let now_ms = request
        .get("now_ms")
        .and_then(Json::as_i64)
        .ok_or_else(|| Failure::bad_request("now_ms must be an int"))?;
    let call = ardiq_client::enqueue_call(queue, enqueue_request(request)?, now_ms)?;
    let argv: Vec<String> = call.argv.iter().map(|arg| to_hex(arg)).collect();
    Ok(json!({"keys": call.keys, "argv": argv}))
}

/// The client request for `task`, `args`, `kwargs` and `options`, built
/// through the client's public builder methods.
fn enqueue_request(request: &Json) -> Result<EnqueueRequest, Failure> {
    let task = str_arg(request, "task")?;
    let args = match request.get("args") {
        None => Vec::new(),
        Some(Json::Array(items)) => items.iter().map(Typed::parse).collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(Failure::bad_request(format!(
                "args must be a list: {other}"
            )))
        }
    };
    let kwargs = match request.get("kwargs") {
        None => Vec::new(),
        Some(pairs) => parse_pairs(pairs)?,
    };
    let mut job = EnqueueRequest::new(task)
        .args(&args)?
        .kwargs(TypedMap(&kwargs))?;
    let empty = Map::new();
    let options = request
        .get("options")
        .and_then(Json::as_object)
        .unwrap_or(&empty);
    // The builder's types cannot hold a boolean, a fraction, an integer
    // beyond i64, or a negative count or duration: such a case is skipped.
    let given = options
        .keys()
        .filter(|k| *k == "delay_ms" || *k == "schedule_ms");
    if given.count() > 1 {
        return Err(Failure::Skipped(
            "the builder keeps the last of delay and schedule: both cannot be given".into(),
        ));
    }
    for (name, value) in options {
        let inexpressible = || {
            Failure::Skipped(format!(
                "{name} = {value} has no Rust value for this builder"
            ))
        };
        let int = || value.as_i64().ok_or_else(inexpressible);
        let millis = || {
            value
                .as_u64()
                .map(Duration::from_millis)
                .ok_or_else(inexpressible)
        };
        job = match name.as_str() {
            "priority" => job.priority(int()?),
            "delay_ms" => job.delay_ms(int()?),
            "schedule_ms" => job.schedule_ms(int()?),
            "job_id" => job.job_id(
                value
                    .as_str()
                    .ok_or_else(|| Failure::bad_request("job_id must be a string"))?,
            ),
            "max_retries" => job.max_retries(u32::try_from(int()?).map_err(|_| inexpressible())?),
            "timeout_ms" => job.timeout(millis()?),
            "backoff_ms" => job.backoff(millis()?),
            "result_ttl_ms" => job.result_ttl(millis()?),
            // 1.1: [name, value] pairs; `header` takes only strings.
            "headers" => {
                let pairs = value
                    .as_array()
                    .ok_or_else(|| Failure::bad_request("headers must be an array of pairs"))?;
                let mut job = job;
                for pair in pairs {
                    let (Some(name), Some(text)) = (pair[0].as_str(), pair[1].as_str()) else {
                        return Err(inexpressible());
                    };
                    job = job.header(name, text);
                }
                job
            }
            "expires_ms" => job.expires_ms(int()?),
            other => return Err(Failure::bad_request(format!("unknown option {other:?}"))),
        };
    }
    Ok(job)
}
