//! The reference server behind HAProxy with the repository's `deploy/haproxy.cfg` (the one
//! docs/deployment.md gives): WebSockets through it, its health check taking a server whose
//! database is stuck out of service and back, and SIGTERM's close 1001 reaching the client.

use std::str::FromStr;
use std::time::Duration;

use kefu_protocol::v1::{ClientMessage, ServerMessage};
use kefu_protocol::AGENT_UID;
use kefu_testkit::balancer::Balancer;
use kefu_testkit::server::{release_binary, Server};
use kefu_testkit::ws::{self, next_v1, send};
use kefu_testkit::{app_token, eventually, http};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// The status HAProxy answers for `/healthz` (503 when it has no server in service).
async fn through(balancer: &Balancer) -> u16 {
    let url = balancer.url("/healthz");
    tokio::task::spawn_blocking(move || http().get(&url).call().map(|r| r.status().as_u16()).unwrap_or(0))
        .await
        .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_health_checks_and_shutdown_go_through_haproxy() {
    let mut server = Server::process(&release_binary(), &["--trusted-proxy", "127.0.0.1"]);
    let balancer = Balancer::start(server.port);
    eventually("the server in service", Duration::from_secs(10), || async {
        (through(&balancer).await == 200).then_some(())
    })
    .await;

    // A user through the balancer, the agent straight to the server.
    let user_url = format!("{}?token={}", balancer.ws_url("7"), app_token(7, None));
    let mut user = ws::connect_v1(&user_url).await;
    ws::resume(&mut user, vec![]).await;
    let mut agent = ws::connect_v1(&server.ws_url(&AGENT_UID.to_string())).await;
    ws::resume(&mut agent, vec![]).await;
    send(
        &mut user,
        &ClientMessage::Send { id: "m1".into(), conversation: None, text: "through haproxy".into() },
    )
    .await;
    // Frames other than the message (presence, the ack's echo) are skipped; ws::WAIT bounds
    // each read.
    let delivered = loop {
        if let ServerMessage::Message(message) = next_v1(&mut agent).await {
            break message;
        }
    };
    assert_eq!(delivered.text, "through haproxy");
    assert_eq!((delivered.conversation, delivered.seq), (kefu_protocol::v1::ConversationId::lit(7), 1));

    // The database stuck (another process holds its write lock): out of service at the
    // balancer within two checks, while the process still lives.
    let url = format!("sqlite://{}", server.database.display());
    let mut other = SqliteConnectOptions::from_str(&url).expect("url").connect().await.expect("connect");
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.expect("take the write lock");
    eventually("out of service", Duration::from_secs(15), || async {
        (through(&balancer).await == 503).then_some(())
    })
    .await;
    let direct = server.url("/healthz");
    let alive = tokio::task::spawn_blocking(move || http().get(&direct).call().map(|r| r.status().as_u16()))
        .await
        .expect("join");
    assert_eq!(alive.ok(), Some(200), "the process itself is up");
    sqlx::query("ROLLBACK").execute(&mut other).await.expect("give the lock back");
    other.close().await.expect("close");
    eventually("back in service", Duration::from_secs(15), || async {
        (through(&balancer).await == 200).then_some(())
    })
    .await;

    // SIGTERM: the close (1001, going away) reaches the client through the balancer.
    server.signal(libc::SIGTERM);
    let close = ws::close_frame(&mut user).await;
    assert_eq!(close.map(|(code, _)| code), Some(1001), "the page is told to reconnect");
    assert!(server.wait().success(), "a clean exit after SIGTERM");
}
