//! Kefu's test support, shared by the server's tests (`server/tests/`) and the browser
//! end-to-end tests (`tests/e2e/`). One module per role:
//!
//! ```text
//! server    the reference server: a real process (kill -9, SIGTERM, SIGSTOP) or in process
//! ws        plain WebSocket clients: connect (v0/v1, Origin), send, read frames, close codes
//! browser   ChromeDriver and headless Chromium sessions, always closed, retried once
//! page      the pages through WebDriver: find (read), act (do), check (wait until)
//! original  the original backend (Java, Tomcat 9) as a process, for compatibility tests
//! proxy     a TCP proxy the test can cut, to break one page's link only
//! postgres  a throwaway PostgreSQL cluster, a fresh database per caller
//! redis     a throwaway Redis, killed and started again at will
//! balancer  HAProxy with the repository's deploy/ configuration
//! ```
//!
//! Identities are made here independently of the server's code: [`app_token`] signs what an
//! embedding app would sign, with [`APP_SECRET`]; every test server has the [`AGENT`] account.

pub mod balancer;
pub mod bench;
pub mod browser;
pub mod original;
pub mod page;
pub mod postgres;
pub mod proxy;
pub mod redis;
pub mod server;
pub mod team;
pub mod ws;

use std::time::{Duration, Instant};

pub use fantoccini;

/// Polls `check` every 10 ms until it returns `Some`, or panics with `what` at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The secret test servers share with "the embedding app" (these tests), which signs user
/// tokens with it.
pub const APP_SECRET: &str = "kefu-test-app-secret";
/// The agent account every test server has.
pub const AGENT: &str = "agent";
pub const AGENT_PASSWORD: &str = "agent-password";

/// A user token as an embedding app signs it (HS256 JWT: `sub` = the user id, `name`, `exp`).
pub fn app_token(uid: i64, name: Option<&str>) -> String {
    app_token_signed(APP_SECRET, uid, name, 3600)
}

/// [`app_token`] with another secret and validity (negative: already expired).
pub fn app_token_signed(secret: &str, uid: i64, name: Option<&str>, valid_secs: i64) -> String {
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
        as i64
        + valid_secs;
    let mut claims = serde_json::json!({ "sub": uid.to_string(), "exp": exp });
    if let Some(name) = name {
        claims["name"] = name.into();
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign a token")
}

/// [`app_token`] with a picture URL (`avatar`), as an app may add.
pub fn app_token_with_avatar(uid: i64, name: &str, avatar: &str) -> String {
    let exp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() + 3600;
    let claims = serde_json::json!({ "sub": uid.to_string(), "exp": exp, "name": name, "avatar": avatar });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(APP_SECRET.as_bytes()),
    )
    .expect("sign a token")
}

/// The body of `POST /api/app/friendship` as the app's backend signs it (with `secret`).
pub fn app_friendship_signed(secret: &str, a: i64, b: i64, friends: bool) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    // A unique `jti`: two changes of one pair within a second are two bodies, not a replay.
    static SIGNED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let jti = format!("{}-{}", std::process::id(), SIGNED.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let claims =
        serde_json::json!({ "a": a, "b": b, "friends": friends, "exp": now + 60, "iat": now, "jti": jti });
    app_friendship_claims(secret, claims)
}

/// A body of `POST /api/app/friendship` with exactly these claims (raw numbers: a test may
/// name ids outside their ranges, lifetimes past the bound, as a hostile app could).
pub fn app_friendship_claims(secret: &str, claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign a friendship")
}

/// An HTTP client that returns error statuses as responses, for tests to check them.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().new_agent()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
}

/// The workspace's root folder.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit is in the workspace")
        .to_path_buf()
}
