//! Identities: agent sign-in, guest identities, app tokens, and forged attempts from plain
//! clients (as the agent without a session, as another user, into another user's
//! conversation, from a foreign Origin), each refused with a clear error while nothing
//! reaches anyone. Tests of the subcommands (accounts, the token example) run the process.

use kefu_protocol::api;
use kefu_protocol::v1::{ClientMessage, ErrorCode, ServerMessage, SUBPROTOCOL};
use kefu_protocol::{AGENT_UID, CLOSE_UNAUTHORIZED};
use kefu_testkit::server::Server;
use kefu_testkit::ws::{self, next_v1 as next, send, Socket};
use kefu_testkit::{app_token, app_token_signed, http, AGENT, AGENT_PASSWORD, APP_SECRET};

const BIN: &str = env!("CARGO_BIN_EXE_kefu-server");

/// Why a session from before a sign-out or a new password is refused.
const SESSION_ENDED: &str = "this session has ended (signed out, or a new password): sign in again";

/// Opens a v1 connection, with an `Origin` when given.
async fn open(url: &str, origin: Option<&str>) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    ws::open(url, Some(SUBPROTOCOL), origin).await.map(|(socket, _)| socket)
}

/// Resumes and returns the replay up to `ready`.
async fn resume(socket: &mut Socket) -> Vec<ServerMessage> {
    ws::resume(socket, vec![]).await
}

/// Connects and expects the server to close with 4401 before sending anything; returns the
/// reason.
async fn refused(url: &str) -> String {
    let mut socket = open(url, None).await.expect("the upgrade itself succeeds");
    let (code, reason) = close_frame_first(&mut socket).await;
    assert_eq!(code, CLOSE_UNAUTHORIZED, "{reason}");
    reason
}

/// The close frame, which must come before any other frame.
async fn close_frame_first(socket: &mut Socket) -> (u16, String) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message as Ws;
    match tokio::time::timeout(ws::WAIT, socket.next()).await.expect("closed within the deadline") {
        Some(Ok(Ws::Close(Some(frame)))) => (u16::from(frame.code), frame.reason.to_string()),
        other => panic!("expected a close first, got {other:?}"),
    }
}

/// Proves nothing else was queued for `socket`: the heartbeat reply comes next.
async fn assert_nothing_pending(socket: &mut Socket) {
    ws::assert_nothing_pending(socket, ws::nothing).await;
}

#[tokio::test]
async fn forged_identities_are_refused_and_reach_nobody() {
    let server = Server::in_process(&[]);
    // A real agent and a real user watch: none of the forgeries may show up for them.
    let mut agent = ws::connect_v1(&server.ws_url("-1")).await;
    resume(&mut agent).await;
    let mut user = open(&server.ws_url("5"), None).await.expect("user 5");
    resume(&mut user).await;
    assert!(
        matches!(next(&mut agent).await, ServerMessage::Presence { conversation, online: true, .. } if conversation.get() == 5)
    );

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
    let expired = app_token_signed(APP_SECRET, 6, None, -3600);
    assert!(refused(&format!("{user_url}?token={expired}")).await.contains("expired"));
    // An agent's session is not a user's.
    let reason = refused(&format!("{user_url}?token={}", server.agent_token())).await;
    assert!(reason.contains("not for this connection"), "{reason}");

    // A proven user writing into another user's conversation is refused by an error frame.
    send(
        &mut user,
        &ClientMessage::Send {
            id: "m1".into(),
            conversation: Some(kefu_protocol::v1::ConversationId::lit(7)),
            text: "psst".into(),
        },
    )
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
    let server = Server::in_process(&["--allow-origin", "https://shop.example"]);
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
    let agent = http();
    let foreign =
        agent.post(&server.url(api::GUEST_PATH)).header("Origin", "https://evil.example").send_empty();
    assert_eq!(foreign.expect("answer").status(), 403);
    let allowed =
        agent.post(&server.url(api::GUEST_PATH)).header("Origin", "https://shop.example").send_empty();
    let allowed = allowed.expect("answer");
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok()),
        Some("https://shop.example")
    );
}

#[tokio::test]
async fn agents_sign_in_with_their_password_only_and_removed_accounts_end() {
    let server = Server::process(BIN.as_ref(), &[]);
    let (status, body) = server.sign_in(AGENT, "wrong password");
    assert_eq!((status, body["error"].as_str()), (401, Some("wrong name or password")));
    let (status, _) = server.sign_in("nobody", AGENT_PASSWORD);
    assert_eq!(status, 401, "an unknown name gets the same answer");
    let agent = http();
    let malformed = agent.post(&server.url(api::AGENT_SESSION_PATH)).send("not json").expect("answer");
    assert_eq!(malformed.status(), 400);

    let (status, body) = server.sign_in(AGENT, AGENT_PASSWORD);
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("token");
    let mut console =
        open(&format!("{}?token={token}", server.bare_ws_url("-1")), None).await.expect("agent");
    resume(&mut console).await;

    // Passwords are stored hashed, not in clear.
    let (ok, output) = server.command(&["agent", "add", "bob", "--password", "bob-secret-1"]);
    assert!(ok && output.contains("created"), "{output}");
    let database = std::fs::read(&server.database).unwrap_or_default();
    let wal = std::fs::read(format!("{}-wal", server.database.display())).unwrap_or_default();
    let needle = b"bob-secret-1";
    assert!(![database, wal].iter().any(|bytes| bytes.windows(needle.len()).any(|w| w == needle)));
    let (ok, output) = server.command(&["agent", "add", "carol", "--password", "short"]);
    assert!(!ok && output.contains("at least 8"), "{output}");

    // A new password ends the sessions that began before it.
    let (ok, output) = server.command(&["agent", "add", AGENT, "--password", "new-password-1"]);
    assert!(ok && output.contains("password changed"), "{output}");
    let reason = refused(&format!("{}?token={token}", server.bare_ws_url("-1"))).await;
    assert_eq!(reason, SESSION_ENDED);
    let (status, body) = server.sign_in(AGENT, "new-password-1");
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("token").to_owned();
    let mut console =
        open(&format!("{}?token={token}", server.bare_ws_url("-1")), None).await.expect("agent");
    resume(&mut console).await;

    let (ok, output) = server.command(&["agent", "remove", AGENT]);
    assert!(ok, "{output}");
    let reason = refused(&format!("{}?token={token}", server.bare_ws_url("-1"))).await;
    assert_eq!(reason, "this agent account no longer exists");
}

#[tokio::test]
async fn signing_out_ends_the_accounts_sessions_and_nothing_else_can() {
    let server = Server::process(BIN.as_ref(), &[]);
    let session = |server: &Server| {
        let (status, body) = server.sign_in(AGENT, AGENT_PASSWORD);
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().expect("token").to_owned()
    };
    let (first, second) = (session(&server), session(&server));
    // Not a session: refused, and nothing ends.
    assert_eq!(server.sign_out(None), 401);
    assert_eq!(server.sign_out(Some("not-a-token")), 401);
    let user_token = app_token(5, None);
    assert_eq!(server.sign_out(Some(&user_token)), 401, "a user's token signs no agent out");
    let mut console =
        open(&format!("{}?token={second}", server.bare_ws_url("-1")), None).await.expect("still signed in");
    resume(&mut console).await;

    assert_eq!(server.sign_out(Some(&first)), 204);
    // The open console of the other session closes at once, with the reason.
    let closed = ws::close_frame(&mut console).await;
    assert_eq!(closed, Some((CLOSE_UNAUTHORIZED, SESSION_ENDED.to_owned())));
    for token in [&first, &second] {
        let reason = refused(&format!("{}?token={token}", server.bare_ws_url("-1"))).await;
        assert_eq!(reason, SESSION_ENDED);
    }
    assert_eq!(server.sign_out(Some(&first)), 204, "again: nothing more to end");
    let third = session(&server);
    let mut console =
        open(&format!("{}?token={third}", server.bare_ws_url("-1")), None).await.expect("signed in again");
    resume(&mut console).await;
}

#[tokio::test]
async fn guests_and_app_users_are_told_to_agents_by_name() {
    let server = Server::process(BIN.as_ref(), &[]);
    let mut agent = ws::connect_v1(&server.ws_url("-1")).await;
    resume(&mut agent).await;

    let http = http();
    let mut response = http.post(&server.url(api::GUEST_PATH)).send_empty().expect("guest");
    let guest: serde_json::Value = response.body_mut().read_json().expect("json");
    let (uid, token) = (guest["uid"].as_i64().expect("uid"), guest["token"].as_str().expect("token"));
    assert!((1_000_000_000_000..1 << 53).contains(&uid), "{uid}");
    let mut visitor =
        open(&format!("{}?token={token}", server.bare_ws_url(&uid.to_string())), None).await.expect("guest");
    resume(&mut visitor).await;
    match next(&mut agent).await {
        ServerMessage::Presence { conversation, online: true, name } => {
            assert_eq!(conversation.get(), uid);
            assert_eq!(name, guest["name"].as_str().map(str::to_owned));
        }
        other => panic!("expected presence, got {other:?}"),
    }

    // The example token command an embedding app can copy.
    let (ok, token) =
        server.command(&["--app-secret", APP_SECRET, "token", "--uid", "42", "--name", "Alice"]);
    assert!(ok, "{token}");
    let mut alice =
        open(&format!("{}?token={}", server.bare_ws_url("42"), token.trim()), None).await.expect("alice");
    resume(&mut alice).await;
    assert_eq!(
        next(&mut agent).await,
        ServerMessage::Presence {
            conversation: kefu_protocol::v1::ConversationId::lit(42),
            online: true,
            name: Some("Alice".into())
        }
    );
    send(&mut alice, &ClientMessage::Send { id: "a1".into(), conversation: None, text: "hello".into() })
        .await;
    match next(&mut agent).await {
        ServerMessage::Message(message) => {
            assert_eq!((message.uid, message.username.as_str()), (42, "Alice"))
        }
        other => panic!("expected Alice's message, got {other:?}"),
    }
}

#[tokio::test]
async fn trusted_user_ids_still_keep_the_agent_locked() {
    let server = Server::in_process(&["--trust-user-ids"]);
    let mut user = open(&server.bare_ws_url("5"), None).await.expect("user without token");
    resume(&mut user).await;
    assert!(refused(&server.bare_ws_url("-1")).await.contains("sign in"));
}

#[tokio::test]
async fn the_api_says_whether_there_are_accounts_and_unknown_paths_are_404() {
    let http = http();
    let server = Server::in_process(&[]);
    let mut config = http.get(&server.url(api::CONFIG_PATH)).call().expect("config");
    assert_eq!(config.body_mut().read_json::<serde_json::Value>().expect("json")["accounts"], true);
    assert_eq!(http.get(&server.url("/api/nothing")).call().expect("answer").status(), 404);
    // Like the original backend: no API at all, so the web app connects without signing in.
    let open = Server::in_process(&["--insecure-no-auth"]);
    assert_eq!(http.get(&open.url(api::CONFIG_PATH)).call().expect("answer").status(), 404);
    assert_eq!(http.post(&open.url(api::GUEST_PATH)).send_empty().expect("answer").status(), 404);
}

#[tokio::test]
async fn the_documented_openssl_example_signs_a_token_the_server_accepts() {
    let server = Server::in_process(&[]);
    let script = kefu_testkit::repo_root().join("scripts/example-app-token.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .args([APP_SECRET, "42", "Alice"])
        .output()
        .expect("run the example");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let mut agent = ws::connect_v1(&server.ws_url("-1")).await;
    resume(&mut agent).await;
    let mut alice = open(&format!("{}?token={token}", server.bare_ws_url("42")), None).await.expect("alice");
    resume(&mut alice).await;
    assert_eq!(
        next(&mut agent).await,
        ServerMessage::Presence {
            conversation: kefu_protocol::v1::ConversationId::lit(42),
            online: true,
            name: Some("Alice".into())
        }
    );
    let reason = refused(&format!("{}?token={token}", server.bare_ws_url("43"))).await;
    assert_eq!(reason, "token is for user 42, not 43");
}

#[tokio::test]
async fn password_guessing_is_slowed_down_per_name() {
    let server = Server::process(BIN.as_ref(), &[]);
    for _ in 0..5 {
        assert_eq!(server.sign_in(AGENT, "guess").0, 401);
    }
    let (status, body) = server.sign_in(AGENT, AGENT_PASSWORD);
    assert_eq!(status, 429, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.starts_with("too many failed sign-ins")), "{body}");
    // Another account is not locked by someone guessing this one.
    let (ok, output) = server.command(&["agent", "add", "bob", "--password", "bob-password"]);
    assert!(ok, "{output}");
    assert_eq!(server.sign_in("bob", "bob-password").0, 200);
}
