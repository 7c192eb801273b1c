//! Plain WebSocket clients for the server tests: connect as v0 or v1 (with an `Origin` when
//! asked), send, read the next frame, prove nothing else is queued, read the close code.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use kefu_protocol::friends::SUBPROTOCOL_V2;
use kefu_protocol::v1::{ClientMessage, Position, ServerMessage, SUBPROTOCOL};
use kefu_protocol::{ServerFrame, HEARTBEAT, HEARTBEAT_ACK};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a test waits for a frame.
pub const WAIT: Duration = Duration::from_secs(5);

/// Opens a WebSocket, offering `protocol` and sending `origin` when given; the handshake
/// response tells which subprotocol the server selected.
pub async fn open(
    url: &str,
    protocol: Option<&str>,
    origin: Option<&str>,
) -> Result<(Socket, http::Response<Option<Vec<u8>>>), tungstenite::Error> {
    let mut request = url.into_client_request()?;
    if let Some(protocol) = protocol {
        request.headers_mut().insert("Sec-WebSocket-Protocol", protocol.parse().expect("header"));
    }
    if let Some(origin) = origin {
        request.headers_mut().insert("Origin", origin.parse().expect("header"));
    }
    tokio_tungstenite::connect_async(request).await
}

/// A connection speaking the original protocol.
pub async fn connect_v0(url: &str) -> Socket {
    open(url, None, None).await.expect("connect").0
}

/// A connection offering v1; checks that the server selected it.
pub async fn connect_v1(url: &str) -> Socket {
    let (socket, response) = open(url, Some(SUBPROTOCOL), None).await.expect("connect");
    let selected = response.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok());
    assert_eq!(selected, Some(SUBPROTOCOL), "server selects kefu.v1");
    socket
}

/// A connection offering v2 then v1, as the page does; checks that the server selected v2.
pub async fn connect_v2(url: &str) -> Socket {
    let offer = format!("{SUBPROTOCOL_V2}, {SUBPROTOCOL}");
    let (socket, response) = open(url, Some(&offer), None).await.expect("connect");
    let selected = response.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok());
    assert_eq!(selected, Some(SUBPROTOCOL_V2), "server selects kefu.v2");
    socket
}

pub async fn send_text(socket: &mut Socket, text: &str) {
    socket.send(Message::text(text)).await.expect("send");
}

pub async fn send(socket: &mut Socket, frame: &ClientMessage) {
    send_text(socket, &frame.encode()).await;
}

/// The next text frame (pings and pongs skipped); panics on anything else, a closed
/// connection, or nothing within [`WAIT`].
pub async fn next_text(socket: &mut Socket) -> String {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame within the deadline")
            .expect("connection open")
            .expect("no error");
        match frame {
            Message::Text(text) => return text.as_str().to_owned(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The next frame of the original protocol.
pub async fn next_frame(socket: &mut Socket) -> ServerFrame {
    ServerFrame::decode(&next_text(socket).await)
}

/// The next v1 frame that is not the team inbox's (an agent's console receives those
/// besides the chat; the team's own tests read them with [`next_v1_raw`]).
pub async fn next_v1(socket: &mut Socket) -> ServerMessage {
    loop {
        let frame = next_v1_raw(socket).await;
        if !frame.is_team() {
            return frame;
        }
    }
}

/// The next v1 frame, whatever it is.
pub async fn next_v1_raw(socket: &mut Socket) -> ServerMessage {
    let text = next_text(socket).await;
    ServerMessage::decode(&text).unwrap_or_else(|err| panic!("not a v1 frame: {text:?}: {err}"))
}

/// Sends `resume` and returns the frames of the replay up to `ready`, the team's left out.
pub async fn resume(socket: &mut Socket, after: Vec<Position>) -> Vec<ServerMessage> {
    let mut replay = resume_raw(socket, after).await;
    replay.retain(|frame| !frame.is_team());
    replay
}

/// Sends `resume` and returns every frame of the replay up to `ready`.
pub async fn resume_raw(socket: &mut Socket, after: Vec<Position>) -> Vec<ServerMessage> {
    send(socket, &ClientMessage::Resume { after }).await;
    let mut replay = vec![];
    loop {
        match next_v1_raw(socket).await {
            ServerMessage::Ready => return replay,
            frame => replay.push(frame),
        }
    }
}

/// Proves nothing else was queued for `socket`: after a heartbeat, its answer comes next,
/// with only frames that `allowed` accepts (say, presence notices) before it.
pub async fn assert_nothing_pending(socket: &mut Socket, allowed: impl Fn(&str) -> bool) {
    send_text(socket, HEARTBEAT).await;
    loop {
        let text = next_text(socket).await;
        if text == HEARTBEAT_ACK {
            return;
        }
        assert!(allowed(&text), "unexpected frame before the heartbeat answer: {text:?}");
    }
}

/// Closes the connection from the client's side (a page closed).
pub async fn close(socket: &mut Socket) {
    let _ = socket.close(None).await;
}

/// Nothing but the heartbeat answer is allowed before it.
pub fn nothing(_: &str) -> bool {
    false
}

/// The code and reason of the close frame that ends the connection (other frames skipped);
/// `None` when it ends without one.
pub async fn close_frame(socket: &mut Socket) -> Option<(u16, String)> {
    loop {
        match tokio::time::timeout(WAIT, socket.next()).await.expect("close within the deadline") {
            Some(Ok(Message::Close(frame))) => {
                return frame.map(|f| (u16::from(f.code), f.reason.to_string()))
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

/// Writes `count` messages (`seed 1`…) into user `uid`'s conversation over a v1 connection
/// at `url` (the user's own), and waits for every acknowledgement.
pub async fn seed_conversation(url: &str, count: usize) {
    let mut socket = connect_v1(url).await;
    for n in 1..=count {
        let frame =
            ClientMessage::Send { id: format!("seed-{n}"), conversation: None, text: format!("seed {n}") };
        send(&mut socket, &frame).await;
    }
    let mut acked = 0;
    while acked < count {
        if let ServerMessage::Ack { .. } = next_v1(&mut socket).await {
            acked += 1;
        }
    }
}
