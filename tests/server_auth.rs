//! Identities on the real server process: agent sign-in, guest identities, app tokens, and
//! forged attempts from plain clients (as the agent without a session, as another user, into
//! another user's conversation, from a foreign Origin), each refused with a clear error while
//! nothing reaches anyone.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use futures_util::{SinkExt, StreamExt};
use kefu_protocol::v1::{ClientMessage, ErrorCode, ServerMessage, SUBPROTOCOL};
use kefu_protocol::{AGENT_UID, CLOSE_UNAUTHORIZED};
use support::ws::{next_text, Socket, WAIT};
use support::{app_token, app_token_signed, server_command, Server, AGENT, AGENT_PASSWORD};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Ws;

async fn open(url: &str, origin: Option<&str>) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert("Sec-WebSocket-Protocol", SUBPROTOCOL.parse().expect("header"));
    if let Some(origin) = origin {
        request.headers_mut().insert("Origin", origin.parse().expect("header"));
    }
    tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
}

async fn send(socket: &mut Socket, frame: ClientMessage) {
    socket.send(Ws::text(frame.encode())).await.expect("send");
}

/// The next v1 frame (pings skipped); panics on close.
async fn next(socket: &mut Socket) -> ServerMessage {
    ServerMessage::decode(&next_text(socket).await).expect("a v1 frame")
}

/// Resumes and returns the replay up to `ready`.
async fn resume(socket: &mut Socket) -> Vec<ServerMessage> {
    send(socket, ClientMessage::Resume { after: vec![] }).await;
    let mut replay = vec![];
    loop {
        match next(socket).await {
            ServerMessage::Ready => return replay,
            frame => replay.push(frame),
        }
    }
}

/// Connects and expects the server to close with 4401 before sending anything; returns the
/// reason.
async fn refused(url: &str) -> String {
    let mut socket = open(url, None).await.expect("the upgrade itself succeeds");
    let message = tokio::time::timeout(WAIT, socket.next()).await.expect("closed within the deadline");
    match message {
        Some(Ok(Ws::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), CLOSE_UNAUTHORIZED, "{frame:?}");
            frame.reason.to_string()
        }
        other => panic!("expected a 4401 close first, got {other:?}"),
    }
}

/// Proves nothing else was queued for `socket`: the heartbeat reply comes next.
async fn assert_nothing_pending(socket: &mut Socket) {
    socket.send(Ws::text("heartbeat")).await.expect("send");
    let frame = tokio::time::timeout(WAIT, socket.next()).await.expect("reply").expect("open").expect("ok");
    assert_eq!(frame.to_text().expect("text"), "success", "nothing may come before the heartbeat reply");
}

#[tokio::test]
async fn forged_identities_are_refused_and_reach_nobody() {
    let server = Server::start();
    // A real agent and a real user watch: none of the forgeries may show up for them.
    let mut agent = open(&server.ws_url("-1"), None).await.expect("agent");
    resume(&mut agent).await;
    let mut user = open(&server.ws_url("5"), None).await.expect("user 5");
    resume(&mut user).await;
    assert!(matches!(next(&mut agent).await, ServerMessage::Presence { conversation: 5, online: true, .. }));

    let agent_url = server.bare_ws_url("-1");
    let reason = refused(&agent_url).await;
    assert!(reason.contains("sign in"), "{reason}");
    assert!(refused(&format!("{agent_url}?token=garbage")).await.contains("invalid token"));
    // The app secret vouches for users, never for the agent.
    let app_signed_agent = app_token(AGENT_UID, None);
    assert!(!refused(&format!("{agent_url}?token={app_signed_agent}")).await.is_empty());
    // A user token for -1 is no agent session either, nor is a user's token another user's.
    let user_url = server.bare_ws_url("6");
    assert!(refused(&user_url).await.contains("token"));
    let reason = refused(&format!("{user_url}?token={}", app_token(5, None))).await;
    assert!(reason.contains("not 6"), "{reason}");
    let guessed = app_token_signed("guessed-secret", 6, None, 60);
    assert_eq!(refused(&format!("{user_url}?token={guessed}")).await, "token signature is not valid");
    let expired = app_token_signed(support::APP_SECRET, 6, None, -3600);
    assert!(refused(&format!("{user_url}?token={expired}")).await.contains("expired"));
    // An agent's session is not a user's.
    let reason = refused(&format!("{user_url}?token={}", server.agent_token())).await;
    assert!(reason.contains("not for this connection"), "{reason}");

    // A proven user writing into another user's conversation is refused by an error frame.
    send(&mut user, ClientMessage::Send { id: "m1".into(), conversation: Some(7), text: "psst".into() })
        .await;
    match next(&mut user).await {
        ServerMessage::Error { code: ErrorCode::UnknownConversation, id, .. } => {
            assert_eq!(id.as_deref(), Some("m1"))
        }
        other => panic!("expected unknown_conversation, got {other:?}"),
    }
    assert_nothing_pending(&mut agent).await;
    assert_nothing_pending(&mut user).await;
}

#[tokio::test]
async fn a_foreign_origin_is_refused_and_an_allowed_one_accepted() {
    let server = Server::start_with(0, &["--allow-origin", "https://shop.example"]);
    let url = server.ws_url("5");
    match open(&url, Some("https://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).to_string();
            assert_eq!(body, "origin not allowed");
        }
        other => panic!("expected HTTP 403, got {:?}", other.map(|_| "a connection")),
    }
    for origin in ["https://shop.example", &server.url("")] {
        let mut socket = open(&url, Some(origin)).await.unwrap_or_else(|err| panic!("{origin}: {err}"));
        resume(&mut socket).await;
    }
    // The HTTP API answers the allowed origin's preflight and refuses the foreign one's calls.
    let agent = support::http();
    let foreign = agent.post(&server.url("/api/guest")).header("Origin", "https://evil.example").send_empty();
    assert_eq!(foreign.expect("answer").status(), 403);
    let allowed = agent.post(&server.url("/api/guest")).header("Origin", "https://shop.example").send_empty();
    let allowed = allowed.expect("answer");
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok()),
        Some("https://shop.example")
    );
}

#[tokio::test]
async fn agents_sign_in_with_their_password_only_and_removed_accounts_end() {
    let server = Server::start();
    let (status, body) = server.sign_in(AGENT, "wrong password");
    assert_eq!((status, body["error"].as_str()), (401, Some("wrong name or password")));
    let (status, _) = server.sign_in("nobody", AGENT_PASSWORD);
    assert_eq!(status, 401, "an unknown name gets the same answer");
    let agent = support::http();
    let malformed = agent.post(&server.url("/api/agent/session")).send("not json").expect("answer");
    assert_eq!(malformed.status(), 400);

    let (status, body) = server.sign_in(AGENT, AGENT_PASSWORD);
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("token");
    let mut console =
        open(&format!("{}?token={token}", server.bare_ws_url("-1")), None).await.expect("agent");
    resume(&mut console).await;

    // Passwords are stored hashed, not in clear.
    let (ok, output) =
        server_command(&server.database, &["agent", "add", "bob", "--password", "bob-secret-1"]);
    assert!(ok && output.contains("created"), "{output}");
    let database = std::fs::read(&server.database).unwrap_or_default();
    let wal = std::fs::read(format!("{}-wal", server.database.display())).unwrap_or_default();
    let needle = b"bob-secret-1";
    assert!(![database, wal].iter().any(|bytes| bytes.windows(needle.len()).any(|w| w == needle)));
    let (ok, output) = server_command(&server.database, &["agent", "add", "carol", "--password", "short"]);
    assert!(!ok && output.contains("at least 8"), "{output}");

    // A new password ends the sessions that began before it.
    let (ok, output) =
        server_command(&server.database, &["agent", "add", AGENT, "--password", "new-password-1"]);
    assert!(ok && output.contains("password changed"), "{output}");
    let reason = refused(&format!("{}?token={token}", server.bare_ws_url("-1"))).await;
    assert_eq!(reason, "the password has changed since: sign in again");
    let (status, body) = server.sign_in(AGENT, "new-password-1");
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("token").to_owned();
    let mut console =
        open(&format!("{}?token={token}", server.bare_ws_url("-1")), None).await.expect("agent");
    resume(&mut console).await;

    let (ok, output) = server_command(&server.database, &["agent", "remove", AGENT]);
    assert!(ok, "{output}");
    let reason = refused(&format!("{}?token={token}", server.bare_ws_url("-1"))).await;
    assert_eq!(reason, "this agent account no longer exists");
}

#[tokio::test]
async fn guests_and_app_users_are_told_to_agents_by_name() {
    let server = Server::start();
    let mut agent = open(&server.ws_url("-1"), None).await.expect("agent");
    resume(&mut agent).await;

    let http = support::http();
    let mut response = http.post(&server.url("/api/guest")).send_empty().expect("guest");
    let guest: serde_json::Value = response.body_mut().read_json().expect("json");
    let (uid, token) = (guest["uid"].as_i64().expect("uid"), guest["token"].as_str().expect("token"));
    assert!((1_000_000_000_000..1 << 53).contains(&uid), "{uid}");
    let mut visitor =
        open(&format!("{}?token={token}", server.bare_ws_url(&uid.to_string())), None).await.expect("guest");
    resume(&mut visitor).await;
    match next(&mut agent).await {
        ServerMessage::Presence { conversation, online: true, name } => {
            assert_eq!(conversation, uid);
            assert_eq!(name, guest["name"].as_str().map(str::to_owned));
        }
        other => panic!("expected presence, got {other:?}"),
    }

    // The example token command an embedding app can copy.
    let (ok, token) = server_command(
        &server.database,
        &["--app-secret", support::APP_SECRET, "token", "--uid", "42", "--name", "Alice"],
    );
    assert!(ok, "{token}");
    let mut alice =
        open(&format!("{}?token={}", server.bare_ws_url("42"), token.trim()), None).await.expect("alice");
    resume(&mut alice).await;
    assert_eq!(
        next(&mut agent).await,
        ServerMessage::Presence { conversation: 42, online: true, name: Some("Alice".into()) }
    );
    send(&mut alice, ClientMessage::Send { id: "a1".into(), conversation: None, text: "hello".into() }).await;
    match next(&mut agent).await {
        ServerMessage::Message(message) => {
            assert_eq!((message.uid, message.username.as_str()), (42, "Alice"))
        }
        other => panic!("expected Alice's message, got {other:?}"),
    }
}

#[tokio::test]
async fn trusted_user_ids_still_keep_the_agent_locked() {
    let server = Server::start_with(0, &["--trust-user-ids"]);
    let mut user = open(&server.bare_ws_url("5"), None).await.expect("user without token");
    resume(&mut user).await;
    assert!(refused(&server.bare_ws_url("-1")).await.contains("sign in"));
}

#[tokio::test]
async fn the_api_says_whether_there_are_accounts_and_unknown_paths_are_404() {
    let http = support::http();
    let server = Server::start();
    let mut config = http.get(&server.url("/api/config")).call().expect("config");
    assert_eq!(config.body_mut().read_json::<serde_json::Value>().expect("json")["accounts"], true);
    assert_eq!(http.get(&server.url("/api/nothing")).call().expect("answer").status(), 404);
    // Like the original backend: no API at all, so the web app connects without signing in.
    let open = Server::start_with(0, &["--insecure-no-auth"]);
    assert_eq!(http.get(&open.url("/api/config")).call().expect("answer").status(), 404);
    assert_eq!(http.post(&open.url("/api/guest")).send_empty().expect("answer").status(), 404);
}

#[tokio::test]
async fn the_documented_openssl_example_signs_a_token_the_server_accepts() {
    let server = Server::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/example-app-token.sh");
    let output = std::process::Command::new("bash")
        .args([script, support::APP_SECRET, "42", "Alice"])
        .output()
        .expect("run the example");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let mut agent = open(&server.ws_url("-1"), None).await.expect("agent");
    resume(&mut agent).await;
    let mut alice = open(&format!("{}?token={token}", server.bare_ws_url("42")), None).await.expect("alice");
    resume(&mut alice).await;
    assert_eq!(
        next(&mut agent).await,
        ServerMessage::Presence { conversation: 42, online: true, name: Some("Alice".into()) }
    );
    let reason = refused(&format!("{}?token={token}", server.bare_ws_url("43"))).await;
    assert_eq!(reason, "token is for user 42, not 43");
}

#[tokio::test]
async fn password_guessing_is_slowed_down_per_name() {
    let server = Server::start();
    for _ in 0..5 {
        assert_eq!(server.sign_in(AGENT, "guess").0, 401);
    }
    let (status, body) = server.sign_in(AGENT, AGENT_PASSWORD);
    assert_eq!(status, 429, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.starts_with("too many failed sign-ins")), "{body}");
    // Another account is not locked by someone guessing this one.
    let (ok, output) =
        server_command(&server.database, &["agent", "add", "bob", "--password", "bob-password"]);
    assert!(ok, "{output}");
    assert_eq!(server.sign_in("bob", "bob-password").0, 200);
}
