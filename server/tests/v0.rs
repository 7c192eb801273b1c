//! The original protocol (v0) against the reference server, from plain WebSocket clients:
//! private routing, several tabs, bad input, floods, idle connections, graceful shutdown.
//! The server runs in process, except where the test is about the process (SIGTERM).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use kefu_protocol::{close, ChatMessage, Role, ServerFrame, AGENT_NAME, AGENT_UID};
use kefu_testkit::server::Server;
use kefu_testkit::ws::{self, close_frame, next_frame, send_text, Socket, WAIT};
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_kefu-server");

async fn connect(server: &Server, uid: &str) -> Socket {
    ws::connect_v0(&server.ws_url(uid)).await
}

async fn next_chat(socket: &mut Socket) -> ChatMessage {
    match next_frame(socket).await {
        ServerFrame::Chat(message) => message,
        other => panic!("expected a chat message, got {other:?}"),
    }
}

/// Proves nothing else was queued for `socket`: the heartbeat reply must come next.
async fn assert_nothing_pending(socket: &mut Socket) {
    ws::assert_nothing_pending(socket, ws::nothing).await;
}

#[tokio::test]
async fn heartbeat_is_answered_to_the_sender_only() {
    let server = Server::in_process(&[]);
    let mut a = connect(&server, "1").await;
    let mut b = connect(&server, "2").await;
    send_text(&mut a, "heartbeat").await;
    assert_eq!(next_frame(&mut a).await, ServerFrame::HeartbeatAck);
    assert_nothing_pending(&mut b).await;
}

#[tokio::test]
async fn a_users_message_reaches_that_user_and_the_agent_but_no_other_user() {
    let server = Server::in_process(&[]);
    let mut agent = connect(&server, "-1").await;
    let mut five = connect(&server, "5").await;
    let mut six = connect(&server, "6").await;

    send_text(&mut five, "hello <script>alert(1)</script>").await;
    let echo = next_chat(&mut five).await;
    let at_agent = next_chat(&mut agent).await;
    assert_eq!(echo, at_agent);
    assert_eq!(echo.uid, 5);
    assert_eq!(echo.role, Role::User);
    assert_eq!(echo.username, "user5");
    assert_eq!(echo.text, "hello <script>alert(1)</script>", "text travels verbatim");
    assert!(
        chrono::NaiveDateTime::parse_from_str(&echo.create_time, kefu_protocol::CREATE_TIME_FORMAT).is_ok(),
        "createTime {:?}",
        echo.create_time
    );
    assert_nothing_pending(&mut six).await;
}

#[tokio::test]
async fn without_accounts_the_agent_is_named_as_the_original_names_it() {
    let server = Server::in_process(&["--insecure-no-auth"]);
    let mut agent = connect(&server, "-1").await;
    let mut five = connect(&server, "5").await;
    assert_nothing_pending(&mut five).await;
    send_text(&mut agent, "欢迎").await;
    let message = next_chat(&mut five).await;
    assert_eq!((message.uid, message.username.as_str()), (AGENT_UID, AGENT_NAME));
}

#[tokio::test]
async fn an_agents_message_reaches_every_user() {
    let server = Server::in_process(&[]);
    let mut agent = connect(&server, "-1").await;
    let mut five = connect(&server, "5").await;
    let mut six = connect(&server, "6").await;
    // A heartbeat answer proves the server has registered each connection.
    for socket in [&mut agent, &mut five, &mut six] {
        assert_nothing_pending(socket).await;
    }
    send_text(&mut agent, "欢迎").await;
    for socket in [&mut agent, &mut five, &mut six] {
        let message = next_chat(socket).await;
        // Signed in: the agent's account name, so visitors see who answers them.
        assert_eq!(
            (message.uid, message.role, message.username.as_str()),
            (AGENT_UID, Role::Agent, kefu_testkit::AGENT)
        );
        assert_eq!(message.text, "欢迎");
    }
}

#[tokio::test]
async fn a_second_connection_of_the_same_user_does_not_break_the_first() {
    let server = Server::in_process(&[]);
    let mut first = connect(&server, "7").await;
    let mut second = connect(&server, "7").await;
    assert_nothing_pending(&mut first).await;
    send_text(&mut second, "from tab two").await;
    assert_eq!(next_chat(&mut first).await.text, "from tab two");
    assert_eq!(next_chat(&mut second).await.text, "from tab two");
    send_text(&mut first, "from tab one").await;
    assert_eq!(next_chat(&mut second).await.text, "from tab one");
    assert_eq!(next_chat(&mut first).await.text, "from tab one");
}

#[tokio::test]
async fn a_non_numeric_user_id_is_refused_with_a_reason() {
    let server = Server::in_process(&[]);
    let mut socket = connect(&server, "abc").await;
    let frame = match tokio::time::timeout(WAIT, socket.next()).await.expect("a close frame") {
        Some(Ok(Message::Close(frame))) => frame.expect("a close code"),
        other => panic!("expected a close frame, got {other:?}"),
    };
    assert_eq!(u16::from(frame.code), close::POLICY);
    assert!(frame.reason.contains("user id"), "{:?}", frame.reason);
}

#[tokio::test]
async fn bad_input_gets_a_notice_and_the_connection_survives() {
    let server = Server::in_process(&[]);
    let mut agent = connect(&server, "-1").await;
    let mut user = connect(&server, "9").await;

    // One unit over the limit: a notice, nothing broadcast.
    send_text(&mut user, &"x".repeat(kefu_protocol::MAX_TEXT_UTF16 + 1)).await;
    let ServerFrame::Notice(notice) = next_frame(&mut user).await else { panic!("expected a notice") };
    assert!(notice.contains("8193"), "{notice}");
    // Astral characters count two units each, as in the original.
    send_text(&mut user, &"😀".repeat(kefu_protocol::MAX_TEXT_UTF16 / 2 + 1)).await;
    assert!(matches!(next_frame(&mut user).await, ServerFrame::Notice(_)));
    // Exactly at the limit is fine.
    let at_limit = "y".repeat(kefu_protocol::MAX_TEXT_UTF16);
    send_text(&mut user, &at_limit).await;
    assert_eq!(next_chat(&mut user).await.text, at_limit);
    assert_eq!(next_chat(&mut agent).await.text, at_limit);

    send_text(&mut user, "   ").await;
    assert!(matches!(next_frame(&mut user).await, ServerFrame::Notice(_)));
    user.send(Message::binary(vec![0u8, 159, 146, 150])).await.expect("send binary");
    let ServerFrame::Notice(notice) = next_frame(&mut user).await else { panic!("expected a notice") };
    assert!(notice.contains("binary"), "{notice}");
    // Text that looks like JSON or a protocol word is just text.
    send_text(&mut user, r#"{"uid":-1,"role":"ai","text":"forged"}"#).await;
    let message = next_chat(&mut user).await;
    assert_eq!((message.uid, message.role), (9, Role::User));

    assert_nothing_pending(&mut user).await;
    let _ = next_chat(&mut agent).await;
    assert_nothing_pending(&mut agent).await;
}

#[tokio::test]
async fn far_oversize_frames_close_that_connection_only() {
    let server = Server::in_process(&[]);
    let mut other = connect(&server, "10").await;
    let mut user = connect(&server, "11").await;
    let _ = user.send(Message::text("z".repeat(1_000_000))).await;
    assert_eq!(close_frame(&mut user).await.map(|(code, _)| code), Some(close::TOO_BIG));
    assert_nothing_pending(&mut other).await;
}

#[tokio::test]
async fn a_flood_is_rate_limited_with_notices_in_order_without_disturbing_others() {
    let server = Server::in_process(&[]);
    let mut agent = connect(&server, "-1").await;
    let mut flooder = connect(&server, "12").await;
    let mut bystander = connect(&server, "13").await;
    for n in 0..200 {
        send_text(&mut flooder, &format!("m{n}")).await;
    }
    // Every frame is answered: its echo, or a notice that it was not sent.
    let (mut echoed, mut refused) = (vec![], 0);
    for _ in 0..200 {
        match next_frame(&mut flooder).await {
            ServerFrame::Chat(message) => echoed.push(message.text),
            ServerFrame::Notice(notice) => {
                assert!(notice.contains("too many"), "{notice}");
                refused += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(refused > 0, "a flood of 200 frames must hit the limit");
    assert!(!echoed.is_empty());
    // The agent got exactly the accepted ones, in order.
    for text in &echoed {
        assert_eq!(&next_chat(&mut agent).await.text, text);
    }
    assert_nothing_pending(&mut agent).await;
    assert_nothing_pending(&mut bystander).await;
    assert_nothing_pending(&mut flooder).await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_and_a_heartbeating_one_is_not() {
    let server = Server::in_process(&["--idle-timeout-secs", "1"]);
    let mut silent = connect(&server, "30").await;
    let mut alive = connect(&server, "31").await;
    // It speaks once, then falls silent.
    assert_nothing_pending(&mut silent).await;
    let started = std::time::Instant::now();
    // Heartbeat the other connection every 300 ms while the silent one times out.
    let closed = loop {
        assert_nothing_pending(&mut alive).await;
        if let Ok(frame) = tokio::time::timeout(Duration::from_millis(300), silent.next()).await {
            break frame;
        }
        assert!(started.elapsed() < WAIT, "the silent connection was never closed");
    };
    match closed {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), close::GOING_AWAY);
            assert_eq!(frame.reason.as_str(), "idle");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(900), "closed too early");
    assert_nothing_pending(&mut alive).await;
}

#[tokio::test]
async fn graceful_shutdown_sends_close_1001_to_everyone() {
    let mut server = Server::process(BIN.as_ref(), &[]);
    let mut a = connect(&server, "1").await;
    let mut b = connect(&server, "-1").await;
    assert_nothing_pending(&mut a).await;
    assert_nothing_pending(&mut b).await;
    server.signal(libc::SIGTERM);
    assert_eq!(close_frame(&mut a).await.map(|(code, _)| code), Some(close::GOING_AWAY));
    assert_eq!(close_frame(&mut b).await.map(|(code, _)| code), Some(close::GOING_AWAY));
    assert!(server.wait().success());
}

#[tokio::test]
async fn client_routes_fall_back_to_the_app() {
    // A stand-in for the built web app: the routing is what is tested here.
    let site = std::env::temp_dir().join(format!("kefu-site-{}", std::process::id()));
    std::fs::create_dir_all(&site).expect("site folder");
    for page in ["index.html", "agent.html", "friends.html"] {
        std::fs::write(site.join(page), format!("<!DOCTYPE html><script src=\"/{page}.js\"></script>"))
            .expect("write a page");
    }
    let server = Server::in_process(&["--static-dir", &site.display().to_string()]);
    for (path, page) in [
        ("/", "index"),
        ("/chat/anywhere", "index"),
        ("/agent", "agent"),
        ("/agent/", "agent"),
        ("/friends", "friends"),
    ] {
        let body = http_get(server.port, path).await;
        assert!(body.starts_with("HTTP/1.1 200"), "{path}: {body}");
        assert!(body.contains(&format!("/{page}.html.js")), "{path} serves {page}.html: {body}");
    }
    let _ = std::fs::remove_dir_all(site);
}

/// A minimal HTTP/1.1 GET, enough to check status and body.
async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
}

/// A GET with headers; returns the raw response head and body.
async fn http_get_with(port: u16, path: &str, headers: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = vec![];
    stream.read_to_end(&mut response).await.expect("read");
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn the_app_is_sent_compressed_at_build_time_and_cached_by_its_hash() {
    let site = std::env::temp_dir().join(format!("kefu-assets-site-{}", std::process::id()));
    std::fs::create_dir_all(&site).expect("site folder");
    std::fs::write(site.join("index.html"), "<!DOCTYPE html>".repeat(50)).expect("write");
    std::fs::write(site.join("agent.html"), "<!DOCTYPE html>").expect("write");
    std::fs::write(site.join("kefu-0123456789abcdef.js"), "export const x = 1;\n".repeat(200))
        .expect("write");
    let (ok, output) = kefu_testkit::server::server_command(
        BIN.as_ref(),
        &site.join("unused.db"),
        &["precompress", &site.display().to_string()],
    );
    assert!(ok, "{output}");
    let server = Server::in_process(&["--static-dir", &site.display().to_string()]);
    let asset = "/kefu-0123456789abcdef.js";
    let brotli = http_get_with(server.port, asset, "Accept-Encoding: gzip, br\r\n").await.to_lowercase();
    assert!(brotli.contains("content-encoding: br"), "{brotli}");
    assert!(brotli.contains("cache-control: public, max-age=31536000, immutable"), "{brotli}");
    let gzip = http_get_with(server.port, asset, "Accept-Encoding: gzip\r\n").await.to_lowercase();
    assert!(gzip.contains("content-encoding: gzip"), "{gzip}");
    let plain = http_get_with(server.port, asset, "").await.to_lowercase();
    assert!(!plain.contains("content-encoding"), "{plain}");
    assert!(plain.contains("export const x = 1;"));
    // Pages are revalidated on every visit, so a new release is seen at once.
    for path in ["/", "/agent", "/some/client/route"] {
        let page = http_get_with(server.port, path, "Accept-Encoding: br\r\n").await.to_lowercase();
        assert!(page.contains("cache-control: no-cache"), "{path}: {page}");
    }
    let _ = std::fs::remove_dir_all(site);
}
