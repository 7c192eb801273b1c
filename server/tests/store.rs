//! The store under concurrent writers and readers on a real server process: messages from
//! both sides while read positions and typing arrive from the same and other conversations.
//! SQLite refuses a write transaction that must upgrade from reading after another
//! connection wrote ("database is locked", SQLITE_BUSY), which the busy timeout does not
//! cover; no send may be refused for that.

use kefu_protocol::v1::ConversationId;
use std::time::Duration;

use kefu_protocol::v1::{ClientMessage, ErrorCode, ServerMessage};
use kefu_protocol::AGENT_UID;
use kefu_testkit::server::Server;
use kefu_testkit::ws::{self, next_v1, send, Socket};

/// Set `KEFU_STORE_TEST_BIN` to run this against another build (e.g. one before the fix).
fn binary() -> std::path::PathBuf {
    std::env::var_os("KEFU_STORE_TEST_BIN")
        .filter(|bin| !bin.is_empty())
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_kefu-server").into())
}

const USERS: [i64; 8] = [301, 302, 303, 304, 305, 306, 307, 308];
const MESSAGES_EACH: usize = 25;
/// Pace of each writer.
const PACE: Duration = Duration::from_millis(40);

/// What one side saw: acks, and refusals by code.
#[derive(Default, Debug)]
struct Tally {
    acked: usize,
    /// The latest message seen from the other side, per conversation.
    seen: Vec<(Option<ConversationId>, u64)>,
    refused: Vec<(ErrorCode, String)>,
}

async fn connect(server: &Server, uid: i64) -> Socket {
    let mut socket = ws::connect_v1(&server.ws_url(&uid.to_string())).await;
    ws::resume(&mut socket, vec![]).await;
    socket
}

/// Reads what is there (up to `wait`), marking every message from the other side read and
/// counting acks and refusals.
async fn drain(socket: &mut Socket, user: bool, tally: &mut Tally, wait: Duration) {
    while let Ok(frame) = tokio::time::timeout(wait, next_v1(socket)).await {
        match frame {
            ServerMessage::Ack { .. } => tally.acked += 1,
            ServerMessage::Error { code, message, .. } => tally.refused.push((code, message)),
            ServerMessage::Message(message) if (message.uid == AGENT_UID) == user => {
                let conversation = (!user).then_some(message.conversation);
                tally.seen.retain(|(c, _)| *c != conversation);
                tally.seen.push((conversation, message.seq));
                send(socket, &ClientMessage::Read { conversation, seq: message.seq }).await;
            }
            _ => {}
        }
    }
}

/// Writes `count` messages (to `conversations` in turn), typing before each, marking read
/// what arrives, then waits for the remaining acks.
async fn write(
    mut socket: Socket,
    user: bool,
    conversations: Vec<Option<ConversationId>>,
    count: usize,
) -> Tally {
    let mut tally = Tally::default();
    for n in 0..count {
        let conversation = conversations[n % conversations.len()];
        send(&mut socket, &ClientMessage::Typing { conversation }).await;
        let id = format!("{}-{n}", if user { "u" } else { "a" });
        send(&mut socket, &ClientMessage::Send { id, conversation, text: format!("message {n}") }).await;
        // A page says again what it has read when it comes back into view.
        for &(conversation, seq) in &tally.seen {
            send(&mut socket, &ClientMessage::Read { conversation, seq }).await;
        }
        drain(&mut socket, user, &mut tally, PACE).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tally.acked + tally.refused.len() < count && tokio::time::Instant::now() < deadline {
        drain(&mut socket, user, &mut tally, Duration::from_millis(200)).await;
    }
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_message_is_refused_while_read_positions_and_typing_are_written() {
    // Limits raised so that what is measured is the store, not the rate limits.
    let server = Server::process(&binary(), &["--max-frames-per-second", "400"]);
    let agent = connect(&server, AGENT_UID).await;
    let mut writers = vec![];
    for uid in USERS {
        let socket = connect(&server, uid).await;
        writers.push((MESSAGES_EACH, tokio::spawn(write(socket, true, vec![None], MESSAGES_EACH))));
    }
    let conversations = USERS.iter().map(|&uid| Some(ConversationId::lit(uid))).collect();
    let agent_count = MESSAGES_EACH * USERS.len();
    writers.push((agent_count, tokio::spawn(write(agent, false, conversations, agent_count))));
    let mut expected = 0;
    for (n, (count, writer)) in writers.into_iter().enumerate() {
        let tally = writer.await.expect("writer");
        expected += count;
        assert_eq!(tally.refused, vec![], "writer {n} was refused");
        assert_eq!(tally.acked, count);
    }
    // Everything is stored: each conversation holds both sides' messages.
    let mut reader = connect(&server, AGENT_UID).await;
    let mut stored = 0;
    for uid in USERS {
        send(
            &mut reader,
            &ClientMessage::History { conversation: ConversationId::lit(uid), before: 0, limit: Some(200) },
        )
        .await;
        loop {
            if let ServerMessage::History { messages, .. } = next_v1(&mut reader).await {
                stored += messages.len();
                break;
            }
        }
    }
    assert_eq!(stored, expected);
}
