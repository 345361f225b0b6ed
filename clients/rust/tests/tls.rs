//! `rediss://` against a redis-server started here whose certificate a
//! private CA signed (made with `openssl`): trusted with `ca_file`, refused
//! with another CA by an error that names TLS; a restart of a plain
//! redis-server on the same port, after which the next call succeeds; and a
//! redis-server still loading its data, whose `LOADING` is `Error::Connection`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ardiq_client::{Client, Error, JobStatus};

/// A loopback port nothing listens on, never one handed out before in this
/// process: the tests run at once, and a port freed by one could otherwise
/// be given to two of them.
fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap();
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

fn openssl(args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs (make redis installs it)");
    assert!(status.success(), "openssl {args:?}");
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

/// A CA of our own; returns its certificate's path.
fn private_ca(dir: &Path, name: &str) -> PathBuf {
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-keyout",
        &path(dir, &format!("{name}.key")),
        "-out",
        &path(dir, &format!("{name}.pem")),
        "-subj",
        &format!("/CN={name}"),
    ]);
    dir.join(format!("{name}.pem"))
}

/// A redis-server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_server(args: &[String]) -> Server {
    Server(
        Command::new("redis-server")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (make redis installs it)"),
    )
}

/// A connection to a listener on loopback `port`, if one accepts. A connect
/// to a port nothing listens on can meet itself (TCP simultaneous open, when
/// the kernel picks `port` as the source port): that socket holds the port,
/// so the server's own bind fails; it is no connection to a server.
fn connect(port: u16) -> Option<std::net::TcpStream> {
    let socket = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    (socket.local_addr().ok()?.port() != port).then_some(socket)
}

/// Waits until `server` accepts connections on `port`; fails when it has
/// exited (the port was taken), so no other server is mistaken for it.
async fn wait_until_up(server: &mut Server, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while connect(port).is_none() {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!("redis-server on {port} exited: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "redis-server on {port} did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the plain redis-server `server` answers `PING` on `port`
/// with `+PONG`: its own answer, not a connection that met itself or
/// another listener's; fails when it has exited.
async fn wait_until_answers(server: &mut Server, port: u16) {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!("redis-server on {port} exited: {status}");
        }
        if let Some(mut socket) = connect(port) {
            let mut reply = [0_u8; 64];
            let read = socket
                .write_all(b"PING\r\n")
                .and_then(|()| socket.read(&mut reply))
                .unwrap_or(0);
            if reply[..read].starts_with(b"+PONG") {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "redis-server on {port} did not answer PING"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A TLS server signed by a fresh private CA: (server, port, CA file, dir).
async fn tls_server(dir: &Path) -> (Server, u16, PathBuf) {
    let ca = private_ca(dir, "test-ca");
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &path(dir, "server.key"),
        "-out",
        &path(dir, "server.csr"),
        "-subj",
        "/CN=localhost",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &path(dir, "server.csr"),
        "-CA",
        &ca.to_string_lossy(),
        "-CAkey",
        &path(dir, "test-ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        &path(dir, "server.pem"),
        "-extfile",
        &path(dir, "server.ext"),
    ]);
    let port = free_port();
    let mut server = redis_server(&[
        "--port".into(),
        "0".into(),
        "--tls-port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--tls-cert-file".into(),
        path(dir, "server.pem"),
        "--tls-key-file".into(),
        path(dir, "server.key"),
        "--tls-ca-cert-file".into(),
        ca.to_string_lossy().into_owned(),
        "--tls-auth-clients".into(),
        "no".into(),
        "--save".into(),
        String::new(),
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
    ]);
    wait_until_up(&mut server, port).await;
    (server, port, ca)
}

fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ardiq-rust-{label}-{}-{}",
        std::process::id(),
        ardiq_client::spec::new_job_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_private_ca_is_trusted_when_given_and_another_is_refused_naming_tls() {
    let dir = temp_dir("tls");
    let (_server, port, ca) = tls_server(&dir).await;
    let url = format!("rediss://127.0.0.1:{port}/0");

    let client = Client::builder(&url)
        .queue("tls")
        .ca_file(&ca)
        .unwrap()
        .connect()
        .await
        .expect("the private CA is trusted");
    let job = client
        .enqueue("add")
        .args((1, 2))
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);

    let other = private_ca(&dir, "other-ca");
    let err = Client::builder(&url)
        .ca_file(&other)
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    assert!(err.to_string().contains("TLS handshake failed"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_missing_ca_file_is_an_invalid_url_error() {
    let err = Client::builder("rediss://127.0.0.1:1/0")
        .ca_file("/nonexistent/ca.pem")
        .unwrap_err();
    assert!(matches!(err, Error::InvalidUrl(_)), "{err:?}");
}

/// The arguments of a plain redis-server on `port` that keeps its files in `dir`.
fn plain_server_args(port: u16, dir: &Path) -> Vec<String> {
    vec![
        "--port".to_owned(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        String::new(),
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
    ]
}

#[tokio::test]
async fn the_first_call_after_a_redis_restart_succeeds() {
    let dir = temp_dir("restart");
    let port = free_port();
    let args = plain_server_args(port, &dir);
    let mut server = redis_server(&args);
    wait_until_answers(&mut server, port).await;
    let client = Client::connect_queue(&format!("redis://127.0.0.1:{port}/0"), "restart")
        .await
        .unwrap();
    client.enqueue("t").send().await.unwrap();

    drop(server);
    let mut restarted = redis_server(&args);
    wait_until_answers(&mut restarted, port).await;
    let job = client
        .enqueue("t")
        .send()
        .await
        .expect("no error after the restart");
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);
    let _ = std::fs::remove_dir_all(dir);
}

/// Waits until the server on `port` answers `PING` with `-LOADING` (a bare
/// socket, so nothing waits the loading out).
async fn wait_until_loading(port: u16) {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(mut socket) = connect(port) {
            socket.write_all(b"PING\r\n").unwrap();
            let mut reply = [0_u8; 64];
            let read = socket.read(&mut reply).unwrap_or(0);
            assert!(
                reply[..read].starts_with(b"-LOADING"),
                "redis-server answered {:?} before LOADING was seen",
                String::from_utf8_lossy(&reply[..read])
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "redis-server on {port} did not start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_call_while_redis_loads_its_data_is_a_connection_error() {
    let dir = temp_dir("loading");
    let port = free_port();
    let mut args = plain_server_args(port, &dir);
    let mut server = redis_server(&args);
    wait_until_answers(&mut server, port).await;
    let url = format!("redis://127.0.0.1:{port}/0");
    let client = Client::connect_queue(&url, "loading").await.unwrap();
    client.enqueue("t").send().await.unwrap();
    let mut direct = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut padding = redis::cmd("MSET");
    for i in 0..4000 {
        padding.arg(format!("pad:{i}")).arg("x");
    }
    padding.query_async::<()>(&mut direct).await.unwrap();
    redis::cmd("SAVE")
        .query_async::<()>(&mut direct)
        .await
        .unwrap();
    drop(direct);
    drop(server);

    // Loads its 4,001 keys at 300 µs each, answering clients every KiB.
    args.extend(
        [
            "--key-load-delay",
            "300",
            "--loading-process-events-interval-bytes",
            "1024",
        ]
        .map(String::from),
    );
    let _loading = redis_server(&args);
    wait_until_loading(port).await;
    let err = client.enqueue("t").send().await.unwrap_err();
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    assert!(err.to_string().contains("loading"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
