//! Connecting: URLs, credentials and the typed errors of a Redis that cannot
//! be reached or refuses the password.

mod common;

use ardiq_client::{Client, Error, JobStatus};

/// `REDIS_URL` with `user:password@` put in front of the host.
fn url_with_credentials(user: &str, password: &str) -> String {
    let url = common::redis_url();
    let (scheme, rest) = url.split_once("://").expect("REDIS_URL has a scheme");
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{rest}")
}

/// An ACL user that exists for one test and is deleted afterwards, even
/// when the test fails.
struct AclUser {
    name: String,
}

impl AclUser {
    async fn create(password: &str) -> Self {
        let name = common::fresh_queue("acl-user");
        let mut redis = common::inspector().await;
        let () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(&name)
            .arg("on")
            .arg(format!(">{password}"))
            .arg("~*")
            .arg("&*")
            .arg("+@all")
            .query_async(&mut redis)
            .await
            .expect("ACL SETUSER");
        Self { name }
    }
}

impl Drop for AclUser {
    fn drop(&mut self) {
        let client = redis::Client::open(common::redis_url()).expect("REDIS_URL parses");
        let mut connection = client
            .get_connection()
            .expect("connect to delete the ACL user");
        let _: i64 = redis::cmd("ACL")
            .arg("DELUSER")
            .arg(&self.name)
            .query(&mut connection)
            .unwrap();
    }
}

#[tokio::test]
async fn an_unreachable_redis_is_a_connection_error() {
    // A port that was free a moment ago and has nothing listening now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Client::connect(&format!("redis://127.0.0.1:{port}/0"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
}

#[tokio::test]
async fn a_wrong_password_is_an_authentication_error() {
    let user = AclUser::create("right-secret").await;
    let err = Client::connect(&url_with_credentials(&user.name, "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Authentication(_)), "{err:?}");
}

#[tokio::test]
async fn the_acl_user_and_password_in_the_url_are_used() {
    let user = AclUser::create("right-secret").await;
    let url = url_with_credentials(&user.name, "right-secret");
    let client = Client::connect_queue(&url, &common::fresh_queue("acl"))
        .await
        .unwrap();
    let job = client
        .enqueue("add")
        .args((1, 2))
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);
}

#[tokio::test]
async fn a_url_that_is_not_redis_is_an_invalid_url() {
    let err = Client::connect("http://127.0.0.1:1/").await.unwrap_err();
    assert!(matches!(err, Error::InvalidUrl(_)), "{err:?}");
}

#[tokio::test]
async fn the_default_queue_is_default_and_others_are_checked() {
    let client = Client::connect(&common::redis_url()).await.unwrap();
    assert_eq!(client.queue(), "default");
    assert!(!client.is_cluster());
    for queue in ["", "a{b}", "two words"] {
        let err = Client::connect_queue(&common::redis_url(), queue)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidQueueName(_)),
            "{queue:?}: {err:?}"
        );
    }
}
