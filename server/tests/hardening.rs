//! What no client, however hostile or slow, may do to the server: hold it with a socket it
//! never reads, exhaust it with sign-ins or half-open connections, forge read positions,
//! amplify a replay, slip past the Origin check, pass an invisible name, flood it through
//! many connections or guests, or break the WebSocket protocol unanswered. One test per
//! point of the hardening issue; bounds are in the limits table of docs/protocol.md.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use kefu_protocol::api;
use kefu_protocol::v1::{ClientMessage, ErrorCode, Position, ServerMessage, SUBPROTOCOL};
use kefu_protocol::{close, AGENT_UID};
use kefu_testkit::server::Server;
use kefu_testkit::ws::{self, next_v1, send, Socket};
use kefu_testkit::{app_token, http, AGENT, AGENT_PASSWORD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Ws;

const BIN: &str = env!("CARGO_BIN_EXE_kefu-server");

/// The next frame that is not a presence notice.
async fn next(socket: &mut Socket) -> ServerMessage {
    loop {
        match next_v1(socket).await {
            ServerMessage::Presence { .. } | ServerMessage::Agents { .. } => continue,
            frame => return frame,
        }
    }
}

async fn resumed(server: &Server, uid: i64) -> Socket {
    let mut socket = ws::connect_v1(&server.ws_url(&uid.to_string())).await;
    ws::resume(&mut socket, vec![]).await;
    socket
}

async fn send_message(socket: &mut Socket, id: &str, text: &str) {
    send(socket, &ClientMessage::Send { id: id.into(), conversation: None, text: text.into() }).await;
}

/// Sends `count` messages of `text` as the user of `socket` and waits for their acks.
async fn write_messages(socket: &mut Socket, count: usize, text: &str) {
    for n in 0..count {
        send_message(socket, &format!("m{n}"), text).await;
    }
    let mut acked = 0;
    while acked < count {
        match next(socket).await {
            ServerMessage::Ack { .. } => acked += 1,
            ServerMessage::Message(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// A v1 connection of `uid` whose client never reads (a tiny receive buffer, and nobody
/// reading it): only what the handshake needs is read.
async fn non_reader(server: &Server, uid: i64) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small receive buffer");
    let stream = socket.connect(SocketAddr::from(([127, 0, 0, 1], server.port))).await.expect("connect");
    let mut request = server.ws_url(&uid.to_string()).into_client_request().expect("request");
    request.headers_mut().insert("Sec-WebSocket-Protocol", SUBPROTOCOL.parse().expect("header"));
    tokio_tungstenite::client_async(request, stream).await.expect("handshake").0
}

/// Waits until the agent is told `uid` went online (`true`) or offline.
async fn wait_presence(agent: &mut Socket, uid: i64, online: bool, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = tokio::time::timeout(left, agent.next())
            .await
            .unwrap_or_else(|_| panic!("user {uid} never shown online={online}"));
        let Some(Ok(Ws::Text(text))) = frame else { panic!("the agent's connection ended") };
        if let Ok(ServerMessage::Presence { conversation, online: now, .. }) = ServerMessage::decode(&text) {
            if conversation.get() == uid && now == online {
                return;
            }
        }
    }
}

/// 1. A client that stops reading: its writes stall, it is dropped and shown offline, and the
/// server's memory stays bounded (before: 100 such sockets took it from 13 MB to 633 MB and
/// were held for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_stop_reading_are_dropped_shown_offline_and_memory_stays_bounded() {
    let server = Server::process(
        BIN.as_ref(),
        &[
            "--write-timeout-secs",
            "2",
            "--max-frames-per-second",
            "1000",
            "--max-connections-per-address",
            "1000",
        ],
    );
    // A conversation full of long messages (about 24 KB each).
    let long = "长".repeat(8000);
    let mut writer = resumed(&server, 40).await;
    write_messages(&mut writer, 40, &long).await;
    drop(writer);
    let mut agent = ws::connect_v1(&server.ws_url("-1")).await;
    ws::resume(&mut agent, vec![]).await;
    let before = server.peak_memory();

    let mut readers = vec![];
    for _ in 0..20 {
        let mut reader = non_reader(&server, 40).await;
        reader.send(Ws::text(ClientMessage::Resume { after: vec![] }.encode())).await.expect("resume");
        // Ask for page after page of the long messages, never reading one.
        for _ in 0..50 {
            let page = ClientMessage::History {
                conversation: kefu_protocol::v1::ConversationId::lit(40),
                before: 0,
                limit: Some(200),
            };
            if reader.send(Ws::text(page.encode())).await.is_err() {
                break;
            }
        }
        readers.push(reader);
    }
    wait_presence(&mut agent, 40, true, Duration::from_secs(10)).await;
    // All twenty are dropped within the write timeout and a little; the user is offline.
    wait_presence(&mut agent, 40, false, Duration::from_secs(20)).await;
    let peak = server.peak_memory();
    println!("peak RSS {} MB (before the readers: {} MB)", peak >> 20, before >> 20);
    assert!(peak < 150 << 20, "peak RSS {} MB", peak >> 20);
    // A bystander is served all along.
    let mut bystander = resumed(&server, 41).await;
    ws::assert_nothing_pending(&mut bystander, |_| true).await;
}

/// POSTs a sign-in as the client at `from` (through the test server trusting 127.0.0.1 as
/// its proxy).
fn sign_in_from(server: &Server, from: &str, name: &str, password: &str) -> (u16, Option<String>) {
    let body = api::SignIn { name: name.into(), password: password.into() };
    let response = http()
        .post(&server.url(api::AGENT_SESSION_PATH))
        .header("X-Forwarded-For", from)
        .send_json(body)
        .expect("answer");
    let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (response.status().as_u16(), retry)
}

/// 2. Sign-in: password checks run on a bounded pool (memory stays bounded: before, 200 at
/// once took a fresh server to 3.8 GB); a crowd past the queue is told to come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_sign_ins_is_checked_with_bounded_memory() {
    let server = Server::process(
        BIN.as_ref(),
        &["--sign-in-failures-per-address", "100000", "--sign-in-failures-per-name", "100000"],
    );
    let url = server.url(api::AGENT_SESSION_PATH);
    let before = server.memory();
    let crowd: Vec<_> = (0..200)
        .map(|n| {
            let url = url.clone();
            std::thread::spawn(move || {
                let body = api::SignIn { name: format!("nobody-{n}"), password: "guess".into() };
                http().post(&url).send_json(body).map(|r| r.status().as_u16()).unwrap_or(0)
            })
        })
        .collect();
    let statuses: Vec<u16> = crowd.into_iter().map(|t| t.join().expect("thread")).collect();
    let busy = statuses.iter().filter(|s| **s == 503).count();
    let refused = statuses.iter().filter(|s| **s == 401).count();
    println!("200 sign-ins at once: {refused} checked (401), {busy} told to retry (503)");
    assert_eq!(busy + refused, 200, "{statuses:?}");
    assert!(busy > 0, "the queue is bounded");
    let peak = server.peak_memory();
    println!("peak RSS {} MB", peak >> 20);
    assert!(peak < 150 << 20, "peak RSS {} MB", peak >> 20);
    assert_eq!(server.sign_in(AGENT, AGENT_PASSWORD).0, 200, "the agent still gets in");
    // And the memory of the checks is given back.
    let after = server.memory();
    println!("RSS before the crowd {} MB, after it {} MB", before >> 20, after >> 20);
    assert!(after < before + (20 << 20), "RSS {} MB after, {} MB before", after >> 20, before >> 20);
}

/// 2. The throttle counts failures per name and address, and per address: guessing a name
/// from one place does not lock its owner out from another, and one place cannot try
/// names without end.
#[tokio::test]
async fn failed_sign_ins_are_throttled_per_name_and_address_and_per_address() {
    let server = Server::in_process(&["--trusted-proxy", "127.0.0.1"]);
    for _ in 0..5 {
        assert_eq!(sign_in_from(&server, "203.0.113.1", AGENT, "guess").0, 401);
    }
    let (status, retry) = sign_in_from(&server, "203.0.113.1", AGENT, AGENT_PASSWORD);
    assert_eq!(status, 429, "the guesser's place waits");
    assert!(retry.and_then(|r| r.parse::<u64>().ok()).is_some_and(|s| s >= 1));
    assert_eq!(sign_in_from(&server, "198.51.100.2", AGENT, AGENT_PASSWORD).0, 200, "the owner elsewhere");
    // One place, many names: at most 20 failures a minute (the bucket refills at 20/60 a
    // second while the checks run), then 429 whatever the name.
    let started = Instant::now();
    let mut failures = 0;
    let throttled = loop {
        match sign_in_from(&server, "203.0.113.3", &format!("name-{failures}"), "guess").0 {
            401 => failures += 1,
            429 => break true,
            other => panic!("unexpected status {other}"),
        }
        if failures > 60 {
            break false;
        }
    };
    let allowed = 20 + (started.elapsed().as_secs_f64() / 3.0).ceil() as usize;
    assert!(throttled && failures <= allowed, "{failures} failures let through (at most {allowed})");
}

/// 2 and 7. A huge name is neither checked nor logged in full; a body past 16 KB is refused.
#[tokio::test]
async fn sign_in_names_are_bounded_in_requests_and_in_the_log() {
    let log = std::env::temp_dir().join(format!("kefu-log-{}.txt", std::process::id()));
    let server = Server::process_logging(BIN.as_ref(), &[], &log);
    for n in 0..10 {
        assert_eq!(server.sign_in(&format!("{n}{}", "n".repeat(10_000)), "guess").0, 401);
    }
    // A 1 MB body is refused from its length alone, before it is read.
    let address = SocketAddr::from(([127, 0, 0, 1], server.port));
    assert_eq!(&partial_sign_in(address, 1_000_000, "{\"name\":\"nnnn").await, b"HTTP/1.1 413");
    let logged = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&log);
    assert!(logged < 8_000, "the log grew by {logged} bytes");
}

/// Reads from `stream` until it ends (or `within` passes): whether the server closed it.
/// Sends a sign-in request announcing `length` bytes of body but only `body_start`, and
/// returns the status line's first 12 bytes.
async fn partial_sign_in(address: SocketAddr, length: usize, body_start: &str) -> [u8; 12] {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n{body_start}",
        api::AGENT_SESSION_PATH
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = [0u8; 12];
    tokio::time::timeout(ws::WAIT, stream.read_exact(&mut answer)).await.expect("an answer").expect("read");
    answer
}

async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// 3. Half-open connections: a connection that never finishes its request head is closed;
/// so is a WebSocket that never sends a frame; one address cannot hold more than its share.
#[tokio::test]
async fn silent_connections_time_out_and_one_address_cannot_hold_them_all() {
    let server = Server::in_process(&[
        "--handshake-timeout-secs",
        "1",
        "--first-frame-timeout-secs",
        "1",
        "--max-connections-per-address",
        "10",
    ]);
    let address = SocketAddr::from(([127, 0, 0, 1], server.port));
    let mut silent = vec![];
    for _ in 0..10 {
        silent.push(TcpStream::connect(address).await.expect("connect"));
    }
    // One more from the same address is turned away at once.
    let mut extra = TcpStream::connect(address).await.expect("connect");
    assert!(closed_within(&mut extra, Duration::from_millis(500)).await, "over the per-address cap");
    // Half a request head, then nothing: closed at the handshake timeout.
    silent[0].write_all(b"GET / HTTP/1.1\r\nHost: 127").await.expect("write");
    for stream in &mut silent {
        assert!(closed_within(stream, Duration::from_secs(5)).await, "a silent connection was kept");
    }
    // A request whose body comes too slowly is cut off too.
    assert_eq!(&partial_sign_in(address, 100, "{\"na").await, b"HTTP/1.1 408");
    // Places came back; an upgraded WebSocket that says nothing is closed with 1008.
    let mut quiet = ws::connect_v1(&server.ws_url("5")).await;
    let (code, reason) = ws::close_frame(&mut quiet).await.expect("a close frame");
    assert_eq!(code, close::POLICY, "{reason}");
}

/// 4. Read positions are clamped to the conversation's last message: a forged position is
/// neither stored nor told to anyone.
#[tokio::test]
async fn read_positions_cannot_pass_the_last_message() {
    let server = Server::in_process(&[]);
    let mut agent = resumed(&server, AGENT_UID).await;
    let mut user = resumed(&server, 5).await;
    write_messages(&mut user, 2, "hello").await;
    send(&mut user, &ClientMessage::Read { conversation: None, seq: 1_000_000_000 }).await;
    send(
        &mut agent,
        &ClientMessage::Read {
            conversation: Some(kefu_protocol::v1::ConversationId::lit(5)),
            seq: 1_000_000_000,
        },
    )
    .await;
    let expected = [
        ServerMessage::Read { conversation: kefu_protocol::v1::ConversationId::lit(5), agent: false, seq: 2 },
        ServerMessage::Read { conversation: kefu_protocol::v1::ConversationId::lit(5), agent: true, seq: 2 },
    ];
    let mut seen = vec![];
    while seen.len() < 2 {
        match next(&mut agent).await {
            frame @ ServerMessage::Read { .. } => seen.push(frame),
            _ => continue,
        }
    }
    // Two connections wrote them: either order.
    for read in &expected {
        assert!(seen.contains(read), "{seen:?}");
    }
    // A new connection is told the clamped positions too.
    let mut fresh = ws::connect_v1(&server.ws_url("-1")).await;
    let replay = ws::resume(&mut fresh, vec![]).await;
    for read in expected {
        assert!(replay.contains(&read), "{replay:?}");
    }
}

/// 6. Replay amplification: a resume naming one conversation 880 times replays it once; a
/// resume is sent once per connection and names at most 5,000 positions.
#[tokio::test]
async fn a_resume_is_merged_bounded_and_sent_once() {
    let server = Server::in_process(&[]);
    let mut writer = resumed(&server, 7).await;
    write_messages(&mut writer, 3, "x").await;
    let mut user = ws::connect_v1(&server.ws_url("7")).await;
    let after = vec![Position { conversation: kefu_protocol::v1::ConversationId::lit(7), seq: 0 }; 880];
    let replay = ws::resume(&mut user, after).await;
    let replayed = replay.iter().filter(|f| matches!(f, ServerMessage::Message(_))).count();
    assert_eq!(replayed, 3, "{replay:?}");
    send(&mut user, &ClientMessage::Resume { after: vec![] }).await;
    assert!(matches!(next(&mut user).await, ServerMessage::Error { code: ErrorCode::AlreadyResumed, .. }));

    let mut agent = ws::connect_v1(&server.ws_url("-1")).await;
    let too_many = (0..5_001)
        .map(|n| Position { conversation: kefu_protocol::v1::ConversationId::lit(n), seq: 0 })
        .collect();
    send(&mut agent, &ClientMessage::Resume { after: too_many }).await;
    assert!(matches!(next(&mut agent).await, ServerMessage::Error { code: ErrorCode::TooMany, .. }));
    // The connection is still good for a proper resume.
    let replay = ws::resume(
        &mut agent,
        vec![Position { conversation: kefu_protocol::v1::ConversationId::lit(7), seq: 1 }],
    )
    .await;
    assert!(replay.iter().any(|f| matches!(f, ServerMessage::Message(m) if m.seq == 3)), "{replay:?}");
}

/// Opens a WebSocket with the given `Host` and `Origin`: Ok, or the HTTP status refusing it.
async fn open_as(server: &Server, uid: &str, host: &str, origin: &str) -> Result<Socket, u16> {
    let mut request = server.ws_url(uid).into_client_request().expect("request");
    request.headers_mut().insert("Host", host.parse().expect("header"));
    request.headers_mut().insert("Origin", origin.parse().expect("header"));
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(err) => panic!("{err}"),
    }
}

/// 7. Origins: the server's own origin has its own scheme; a foreign name in `Host` (DNS
/// rebinding) is refused even when `Origin` matches it; a public origin behind a trusted
/// TLS proxy is accepted.
#[tokio::test]
async fn origins_must_match_scheme_and_host_names_must_be_ours() {
    let server =
        Server::in_process(&["--public-origin", "https://kefu.example", "--trusted-proxy", "127.0.0.1"]);
    let own = format!("127.0.0.1:{}", server.port);
    assert!(open_as(&server, "5", &own, &format!("http://{own}")).await.is_ok());
    assert_eq!(open_as(&server, "5", &own, &format!("https://{own}")).await.err(), Some(403), "other scheme");
    assert_eq!(open_as(&server, "5", &own, &format!("ftp://{own}")).await.err(), Some(403));
    let rebound = format!("evil.example:{}", server.port);
    assert_eq!(open_as(&server, "5", &rebound, &format!("http://{rebound}")).await.err(), Some(421));
    let guest = http()
        .post(&server.url(api::GUEST_PATH))
        .header("Host", &rebound)
        .header("Origin", &format!("http://{rebound}"))
        .send_empty()
        .expect("answer");
    assert_eq!(guest.status().as_u16(), 421);
    // The public name, over TLS at the proxy.
    let mut request = server.ws_url("5").into_client_request().expect("request");
    for (name, value) in
        [("Host", "kefu.example"), ("Origin", "https://kefu.example"), ("X-Forwarded-Proto", "https")]
    {
        request.headers_mut().insert(name, value.parse().expect("header"));
    }
    assert!(tokio_tungstenite::connect_async(request).await.is_ok(), "the public origin");
}

/// 7. Names are shown without invisible or reversing characters.
#[tokio::test]
async fn names_cannot_hide_or_reverse_characters() {
    let server = Server::in_process(&[]);
    let mut agent = resumed(&server, AGENT_UID).await;
    let token = app_token(42, Some("Ali\u{200B}ce\u{202E}"));
    let mut user = ws::connect_v1(&format!("{}?token={token}", server.bare_ws_url("42"))).await;
    ws::resume(&mut user, vec![]).await;
    loop {
        if let ServerMessage::Presence { conversation, name, .. } = next_v1(&mut agent).await {
            if conversation.get() != 42 {
                continue;
            }
            assert_eq!(name.as_deref(), Some("Alice"));
            break;
        }
    }
}

/// 7. Guests: a few per address a minute (before: 3,300/s to anyone).
#[tokio::test]
async fn guest_identities_are_limited_per_address() {
    let server =
        Server::in_process(&["--trusted-proxy", "127.0.0.1", "--guests-per-minute-per-address", "3"]);
    let guest = |from: &str| {
        let response = http().post(&server.url(api::GUEST_PATH)).header("X-Forwarded-For", from).send_empty();
        response.expect("answer").status().as_u16()
    };
    for _ in 0..3 {
        assert_eq!(guest("203.0.113.9"), 200);
    }
    assert_eq!(guest("203.0.113.9"), 429);
    assert_eq!(guest("198.51.100.9"), 200, "another address is not affected");
}

/// 7. Frame limits hold per user across connections, not only per connection.
#[tokio::test]
async fn a_user_cannot_escape_the_rate_limit_with_more_connections() {
    let server = Server::in_process(&["--max-frames-per-second", "10"]);
    let mut tabs = vec![];
    for _ in 0..4 {
        tabs.push(resumed(&server, 9).await);
    }
    // Each tab stays within its own burst (20); together they pass the user's (40).
    let mut sent = 0;
    for tab in &mut tabs {
        for _ in 0..19 {
            send(tab, &ClientMessage::Typing { conversation: None }).await;
            sent += 1;
        }
    }
    let mut limited = 0;
    for tab in &mut tabs {
        ws::send_text(tab, kefu_protocol::HEARTBEAT).await;
        loop {
            let text = ws::next_text(tab).await;
            if text == kefu_protocol::HEARTBEAT_ACK {
                break;
            }
            if let Ok(ServerMessage::Error { code: ErrorCode::RateLimited, .. }) =
                ServerMessage::decode(&text)
            {
                limited += 1;
            }
        }
    }
    assert!(limited >= sent - 45, "{limited} of {sent} refused");
}

/// Completes a WebSocket handshake by hand on a raw TCP stream (to send what a library
/// would refuse to).
async fn raw_websocket(server: &Server, uid: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).await.expect("connect");
    let url = server.ws_url(uid);
    let path = url.split_once(&format!("{}", server.port)).map(|(_, p)| p).expect("path");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.port
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut head = vec![];
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.expect("read the response");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    stream
}

/// A masked client frame.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend(mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// The close code of the next frame from the server (which must be a close frame).
async fn server_close_code(stream: &mut TcpStream) -> u16 {
    let mut header = [0u8; 2];
    tokio::time::timeout(ws::WAIT, stream.read_exact(&mut header)).await.expect("a frame").expect("read");
    assert_eq!(header[0] & 0x0f, 0x8, "a close frame, got opcode {}", header[0] & 0x0f);
    let mut payload = vec![0u8; usize::from(header[1] & 0x7f)];
    stream.read_exact(&mut payload).await.expect("read");
    u16::from_be_bytes([payload[0], payload[1]])
}

/// 7. Invalid UTF-8 in a text frame is answered with close 1007 (RFC 6455), not a dropped
/// connection.
#[tokio::test]
async fn invalid_utf8_is_answered_with_1007() {
    let server = Server::in_process(&[]);
    let mut stream = raw_websocket(&server, "5").await;
    stream.write_all(&client_frame(0x1, &[0x68, 0x69, 0xff, 0xfe])).await.expect("write");
    assert_eq!(server_close_code(&mut stream).await, close::INVALID_DATA);
}

/// 9. The server answers a client's close frame (before: the connection just ended, 1006).
#[tokio::test]
async fn a_clients_close_frame_is_answered() {
    let server = Server::in_process(&[]);
    let mut stream = raw_websocket(&server, "5").await;
    stream.write_all(&client_frame(0x8, &1000u16.to_be_bytes())).await.expect("write");
    assert_eq!(server_close_code(&mut stream).await, 1000);
}
