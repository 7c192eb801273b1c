//! Protocol v1 against the reference server, from plain WebSocket clients: negotiation,
//! acknowledgement and dedupe, replay, history pages, error frames, durability across
//! `kill -9` (a real process), and interplay with v0 clients. The server runs in process
//! unless the test is about the process.

use futures_util::SinkExt;
use kefu_protocol::v1::{ClientMessage, ErrorCode, Message, Position, ServerMessage};
use kefu_protocol::{ServerFrame, AGENT_UID};
use kefu_testkit::server::Server;
use kefu_testkit::ws::{self, next_text, next_v1, send, send_text, Socket};
use tokio_tungstenite::tungstenite::Message as Ws;

const BIN: &str = env!("CARGO_BIN_EXE_kefu-server");

/// Connects, resumes from `after`, and returns the frames of the replay up to `ready`.
/// Presence notices are left out of the replay; [`connect_resumed_with_presence`] keeps them.
async fn connect_resumed(server: &Server, uid: i64, after: Vec<Position>) -> (Socket, Vec<ServerMessage>) {
    let (socket, replay) = connect_resumed_with_presence(server, uid, after).await;
    (socket, replay.into_iter().filter(|frame| !is_presence(frame)).collect())
}

async fn connect_resumed_with_presence(
    server: &Server,
    uid: i64,
    after: Vec<Position>,
) -> (Socket, Vec<ServerMessage>) {
    let mut socket = ws::connect_v1(&server.ws_url(&uid.to_string())).await;
    let replay = ws::resume(&mut socket, after).await;
    (socket, replay)
}

async fn v0(server: &Server, uid: i64) -> Socket {
    ws::connect_v0(&server.ws_url(&uid.to_string())).await
}

async fn send_raw(socket: &mut Socket, frame: Ws) {
    socket.send(frame).await.expect("send");
}

async fn send_message(socket: &mut Socket, id: &str, conversation: Option<i64>, text: &str) {
    let conversation = conversation.map(kefu_protocol::v1::ConversationId::lit);
    send(socket, &ClientMessage::Send { id: id.into(), conversation, text: text.into() }).await;
}

/// The next frame that is not a presence notice (those have their own test).
async fn next(socket: &mut Socket) -> ServerMessage {
    loop {
        let frame = next_v1(socket).await;
        if !is_presence(&frame) {
            return frame;
        }
    }
}

async fn next_any(socket: &mut Socket) -> ServerMessage {
    next_v1(socket).await
}

/// Presence notices, and the team inbox's frames at an agent (tested in team.rs).
fn is_presence(frame: &ServerMessage) -> bool {
    matches!(frame, ServerMessage::Presence { .. } | ServerMessage::Agents { .. }) || frame.is_team()
}

async fn next_message(socket: &mut Socket) -> Message {
    match next(socket).await {
        ServerMessage::Message(message) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

async fn next_error(socket: &mut Socket) -> (ErrorCode, Option<String>) {
    match next(socket).await {
        ServerMessage::Error { code, id, .. } => (code, id),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Proves no chat frame is queued for `socket`: the heartbeat answer comes next (presence
/// notices aside).
async fn assert_nothing_pending(socket: &mut Socket) {
    ws::assert_nothing_pending(socket, |text| ServerMessage::decode(text).is_ok_and(|f| is_presence(&f)))
        .await;
}

#[tokio::test]
async fn typing_reaches_the_other_side_of_that_conversation_only() {
    let server = Server::in_process(&[]);
    let (mut agent, _) = connect_resumed(&server, AGENT_UID, vec![]).await;
    let (mut colleague, _) = connect_resumed(&server, AGENT_UID, vec![]).await;
    let (mut user, _) = connect_resumed(&server, 5, vec![]).await;
    let (mut other_tab, _) = connect_resumed(&server, 5, vec![]).await;
    let (mut stranger, _) = connect_resumed(&server, 6, vec![]).await;
    let typing = |conversation, agent| ServerMessage::Typing { conversation, agent };

    send(&mut user, &ClientMessage::Typing { conversation: None }).await;
    for socket in [&mut agent, &mut colleague, &mut other_tab] {
        assert_eq!(next(socket).await, typing(kefu_protocol::v1::ConversationId::lit(5), false));
    }
    send(
        &mut agent,
        &ClientMessage::Typing { conversation: Some(kefu_protocol::v1::ConversationId::lit(5)) },
    )
    .await;
    for socket in [&mut user, &mut other_tab, &mut colleague] {
        assert_eq!(next(socket).await, typing(kefu_protocol::v1::ConversationId::lit(5), true));
    }
    // Nobody else hears it, the typist gets no echo, and a user cannot type elsewhere.
    assert_nothing_pending(&mut stranger).await;
    assert_nothing_pending(&mut agent).await;
    send(&mut user, &ClientMessage::Typing { conversation: Some(kefu_protocol::v1::ConversationId::lit(6)) })
        .await;
    assert_eq!(next_error(&mut user).await, (ErrorCode::UnknownConversation, None));
    assert_nothing_pending(&mut stranger).await;
}

#[tokio::test]
async fn read_positions_are_shared_with_the_team_and_replayed() {
    let server = Server::in_process(&[]);
    let (mut agent, _) = connect_resumed(&server, AGENT_UID, vec![]).await;
    let (mut colleague, _) = connect_resumed(&server, AGENT_UID, vec![]).await;
    let (mut user, _) = connect_resumed(&server, 5, vec![]).await;
    for n in 1..=2 {
        send_message(&mut user, &format!("u{n}"), None, "question").await;
    }
    // Both acks first (the user's own messages come back too, for its other tabs): an ack is
    // queued after the broadcast, so a fast agent's read could otherwise overtake the second.
    for n in 1..=2 {
        assert!(matches!(next(&mut user).await, ServerMessage::Message(m) if m.seq == n));
        assert_eq!(
            next(&mut user).await,
            ServerMessage::Ack {
                id: format!("u{n}"),
                conversation: kefu_protocol::v1::ConversationId::lit(5),
                seq: n
            }
        );
    }
    for socket in [&mut agent, &mut colleague] {
        next_message(socket).await;
        next_message(socket).await;
    }
    // One agent reads: the colleague and the user hear it; so does the reader (other tabs).
    send(
        &mut agent,
        &ClientMessage::Read { conversation: Some(kefu_protocol::v1::ConversationId::lit(5)), seq: 2 },
    )
    .await;
    let read =
        ServerMessage::Read { conversation: kefu_protocol::v1::ConversationId::lit(5), agent: true, seq: 2 };
    for socket in [&mut colleague, &mut user, &mut agent] {
        assert_eq!(next(socket).await, read);
    }
    // Going back is ignored: the stored position stays, and nobody is told.
    send(
        &mut agent,
        &ClientMessage::Read { conversation: Some(kefu_protocol::v1::ConversationId::lit(5)), seq: 1 },
    )
    .await;
    assert_nothing_pending(&mut colleague).await;
    // The user reads too; a user cannot mark another conversation.
    send(&mut user, &ClientMessage::Read { conversation: None, seq: 2 }).await;
    let user_read =
        ServerMessage::Read { conversation: kefu_protocol::v1::ConversationId::lit(5), agent: false, seq: 2 };
    assert_eq!(next(&mut agent).await, user_read);
    assert_eq!(next(&mut user).await, user_read, "the user's other tabs hear it too");
    send(
        &mut user,
        &ClientMessage::Read { conversation: Some(kefu_protocol::v1::ConversationId::lit(6)), seq: 1 },
    )
    .await;
    assert_eq!(next_error(&mut user).await, (ErrorCode::UnknownConversation, None));
    // A new connection learns both positions in its replay.
    let (_, replay) = connect_resumed(&server, AGENT_UID, vec![]).await;
    assert!(replay.contains(&read), "{replay:?}");
    assert!(
        replay.contains(&ServerMessage::Read {
            conversation: kefu_protocol::v1::ConversationId::lit(5),
            agent: false,
            seq: 2
        }),
        "{replay:?}"
    );
}

#[tokio::test]
async fn agents_see_users_come_and_go_and_users_see_whether_an_agent_is_there() {
    let server = Server::in_process(&[]);
    // A user alone: told that no agent is there.
    let (mut user, replay) = connect_resumed_with_presence(&server, 5, vec![]).await;
    assert!(replay.contains(&ServerMessage::Agents { online: false }), "{replay:?}");
    // An agent arrives: it learns user 5 is online; the user learns an agent is there.
    let (mut agent, replay) = connect_resumed_with_presence(&server, AGENT_UID, vec![]).await;
    assert!(
        replay.contains(&ServerMessage::Presence {
            conversation: kefu_protocol::v1::ConversationId::lit(5),
            online: true,
            name: None
        }),
        "{replay:?}"
    );
    assert_eq!(next_any(&mut user).await, ServerMessage::Agents { online: true });
    // A second user comes and goes; the agent hears both, the first user neither.
    let (other, _) = connect_resumed(&server, 6, vec![]).await;
    assert_eq!(
        next_any(&mut agent).await,
        ServerMessage::Presence {
            conversation: kefu_protocol::v1::ConversationId::lit(6),
            online: true,
            name: None
        }
    );
    drop(other);
    assert_eq!(
        next_any(&mut agent).await,
        ServerMessage::Presence {
            conversation: kefu_protocol::v1::ConversationId::lit(6),
            online: false,
            name: None
        }
    );
    // The agent leaves: the user is told.
    drop(agent);
    assert_eq!(next_any(&mut user).await, ServerMessage::Agents { online: false });
}

#[tokio::test]
async fn a_message_is_stored_delivered_and_acknowledged_once_even_when_repeated() {
    let server = Server::in_process(&[]);
    let (mut agent, _) = connect_resumed(&server, AGENT_UID, vec![]).await;
    let (mut user, _) = connect_resumed(&server, 5, vec![]).await;
    let (mut other, _) = connect_resumed(&server, 6, vec![]).await;

    send_message(&mut user, "m-1", None, "hello").await;
    let echo = next_message(&mut user).await;
    assert_eq!(
        (echo.conversation.get(), echo.seq, echo.id.as_str(), echo.text.as_str()),
        (5, 1, "m-1", "hello")
    );
    let ack = ServerMessage::Ack {
        id: "m-1".into(),
        conversation: kefu_protocol::v1::ConversationId::lit(5),
        seq: 1,
    };
    assert_eq!(next(&mut user).await, ack);
    assert_eq!(next_message(&mut agent).await, echo);

    // The same id again (a retry after a lost ack): acknowledged again, not stored or sent twice.
    send_message(&mut user, "m-1", None, "hello").await;
    assert_eq!(next(&mut user).await, ack);
    assert_nothing_pending(&mut agent).await;
    assert_nothing_pending(&mut other).await;

    // The agent answers into the conversation: only that user (and agents) get it.
    send_message(&mut agent, "r-1", Some(5), "hi, how can I help?").await;
    let reply = next_message(&mut user).await;
    assert_eq!((reply.seq, reply.uid, reply.text.as_str()), (2, AGENT_UID, "hi, how can I help?"));
    assert_eq!(next_message(&mut agent).await, reply);
    assert_eq!(
        next(&mut agent).await,
        ServerMessage::Ack {
            id: "r-1".into(),
            conversation: kefu_protocol::v1::ConversationId::lit(5),
            seq: 2
        }
    );
    assert_nothing_pending(&mut other).await;
}

#[tokio::test]
async fn resume_replays_what_was_missed_in_order_before_live_traffic() {
    let server = Server::in_process(&[]);
    let (mut user, replay) = connect_resumed(&server, 5, vec![]).await;
    assert_eq!(
        replay,
        vec![ServerMessage::History {
            conversation: kefu_protocol::v1::ConversationId::lit(5),
            messages: vec![],
            has_more: false
        }]
    );
    for n in 1..=4 {
        send_message(&mut user, &format!("m{n}"), None, &format!("text {n}")).await;
        next_message(&mut user).await;
        next(&mut user).await;
    }
    drop(user);

    // Back after seeing seq 1: seqs 2, 3, 4 come, in order, then ready.
    let (mut user, replay) = connect_resumed(
        &server,
        5,
        vec![Position { conversation: kefu_protocol::v1::ConversationId::lit(5), seq: 1 }],
    )
    .await;
    let seqs: Vec<u64> = replay
        .iter()
        .map(|frame| match frame {
            ServerMessage::Message(m) => m.seq,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(seqs, vec![2, 3, 4]);
    send_message(&mut user, "m5", None, "live").await;
    assert_eq!(next_message(&mut user).await.seq, 5);

    // A fresh page (no position): the latest page as history.
    let (_, replay) = connect_resumed(&server, 5, vec![]).await;
    match &replay[..] {
        [ServerMessage::History { conversation, messages, has_more: false }] if conversation.get() == 5 => {
            assert_eq!(messages.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
        }
        other => panic!("unexpected replay {other:?}"),
    }

    // An agent that has seen nothing gets each conversation's latest page.
    let (_, replay) = connect_resumed(&server, AGENT_UID, vec![]).await;
    assert!(
        matches!(&replay[..], [ServerMessage::History { conversation, .. }] if conversation.get() == 5),
        "{replay:?}"
    );
}

#[tokio::test]
async fn history_pages_go_back_to_the_first_message() {
    let server = Server::in_process(&["--max-frames-per-second", "1000"]);
    let (mut user, _) = connect_resumed(&server, 8, vec![]).await;
    for n in 1..=120 {
        send_message(&mut user, &format!("m{n}"), None, &format!("{n}")).await;
    }
    for _ in 0..240 {
        next(&mut user).await;
    }
    let mut before = 0;
    let mut seen = vec![];
    loop {
        send(
            &mut user,
            &ClientMessage::History {
                conversation: kefu_protocol::v1::ConversationId::lit(8),
                before,
                limit: Some(50),
            },
        )
        .await;
        let ServerMessage::History { messages, has_more, .. } = next(&mut user).await else {
            panic!("history")
        };
        let mut seqs: Vec<u64> = messages.iter().map(|m| m.seq).collect();
        before = seqs[0];
        seqs.extend(seen);
        seen = seqs;
        if !has_more {
            break;
        }
    }
    assert_eq!(seen, (1..=120).collect::<Vec<u64>>());
}

#[tokio::test]
async fn bad_frames_get_error_frames_and_the_connection_survives() {
    let server = Server::in_process(&[]);
    let (mut agent, _) = connect_resumed(&server, AGENT_UID, vec![]).await;
    let (mut user, _) = connect_resumed(&server, 9, vec![]).await;
    let (mut bystander, _) = connect_resumed(&server, 10, vec![]).await;

    send_raw(&mut user, Ws::text("{not json")).await;
    assert_eq!(next_error(&mut user).await, (ErrorCode::Malformed, None));
    send_raw(&mut user, Ws::text(r#"{"type":"send","text":"no id"}"#)).await;
    assert_eq!(next_error(&mut user).await, (ErrorCode::Malformed, None));
    send_raw(&mut user, Ws::text(r#"{"type":"teleport"}"#)).await;
    assert_eq!(next_error(&mut user).await, (ErrorCode::UnknownType, None));
    send_raw(&mut user, Ws::binary(vec![1u8, 2, 3])).await;
    assert_eq!(next_error(&mut user).await, (ErrorCode::Binary, None));
    send_message(&mut user, "bad id!", None, "x").await;
    assert_eq!(next_error(&mut user).await, (ErrorCode::BadId, None));
    send_message(&mut user, "long", None, &"x".repeat(kefu_protocol::MAX_TEXT_UTF16 + 1)).await;
    assert_eq!(next_error(&mut user).await, (ErrorCode::Oversize, Some("long".into())));
    send_message(&mut user, "blank", None, " \n ").await;
    assert_eq!(next_error(&mut user).await, (ErrorCode::EmptyText, Some("blank".into())));
    // Writing into another user's conversation, or reading it.
    send_message(&mut user, "sneak", Some(10), "psst").await;
    assert_eq!(next_error(&mut user).await, (ErrorCode::UnknownConversation, Some("sneak".into())));
    send(
        &mut user,
        &ClientMessage::History {
            conversation: kefu_protocol::v1::ConversationId::lit(10),
            before: 0,
            limit: None,
        },
    )
    .await;
    assert_eq!(next_error(&mut user).await, (ErrorCode::UnknownConversation, None));
    // An agent must name an existing conversation.
    send_message(&mut agent, "a1", None, "to whom?").await;
    assert_eq!(next_error(&mut agent).await, (ErrorCode::UnknownConversation, Some("a1".into())));
    send_message(&mut agent, "a2", Some(424242), "nobody").await;
    assert_eq!(next_error(&mut agent).await, (ErrorCode::UnknownConversation, Some("a2".into())));

    // Nothing reached anyone, and every connection still works.
    assert_nothing_pending(&mut agent).await;
    assert_nothing_pending(&mut bystander).await;
    send_message(&mut user, "ok", None, "still here").await;
    assert_eq!(next_message(&mut user).await.text, "still here");
    assert_eq!(next_message(&mut agent).await.text, "still here");
}

#[tokio::test]
async fn a_flood_is_refused_with_rate_limited_errors_naming_each_message() {
    let server = Server::in_process(&[]);
    let (mut agent, _) = connect_resumed(&server, AGENT_UID, vec![]).await;
    let (mut flooder, _) = connect_resumed(&server, 11, vec![]).await;
    let (mut bystander, _) = connect_resumed(&server, 12, vec![]).await;
    for n in 0..150 {
        send_message(&mut flooder, &format!("f{n}"), None, "spam").await;
    }
    let (mut acked, mut limited) = (0, 0);
    while acked + limited < 150 {
        match next(&mut flooder).await {
            ServerMessage::Message(_) => {}
            ServerMessage::Ack { .. } => acked += 1,
            ServerMessage::Error { code: ErrorCode::RateLimited, id: Some(_), .. } => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(limited > 0 && acked > 0, "acked {acked}, limited {limited}");
    for _ in 0..acked {
        next_message(&mut agent).await;
    }
    assert_nothing_pending(&mut agent).await;
    assert_nothing_pending(&mut bystander).await;
}

#[tokio::test]
async fn an_acknowledged_message_survives_kill_9() {
    let mut server = Server::process(BIN.as_ref(), &[]);
    let (mut user, _) = connect_resumed(&server, 13, vec![]).await;
    send_message(&mut user, "durable", None, "keep me").await;
    next_message(&mut user).await;
    assert_eq!(
        next(&mut user).await,
        ServerMessage::Ack {
            id: "durable".into(),
            conversation: kefu_protocol::v1::ConversationId::lit(13),
            seq: 1
        }
    );
    server.signal(libc::SIGKILL);
    server.wait();
    server.restart();
    let (_, replay) = connect_resumed(
        &server,
        13,
        vec![Position { conversation: kefu_protocol::v1::ConversationId::lit(13), seq: 0 }],
    )
    .await;
    match &replay[..] {
        [ServerMessage::Message(message)] => assert_eq!((message.seq, message.text.as_str()), (1, "keep me")),
        other => panic!("unexpected replay {other:?}"),
    }
}

#[tokio::test]
async fn v0_and_v1_clients_talk_to_each_other() {
    let server = Server::in_process(&[]);
    let (mut agent, _) = connect_resumed(&server, AGENT_UID, vec![]).await;
    let mut old_app = v0(&server, 20).await;
    let mut other_old_app = v0(&server, 21).await;
    for socket in [&mut old_app, &mut other_old_app] {
        send_text(socket, "heartbeat").await;
        assert_eq!(next_text(socket).await, "success");
    }
    send_text(&mut old_app, "from the old app").await;
    let ServerFrame::Chat(echo) = ServerFrame::decode(&next_text(&mut old_app).await) else {
        panic!("v0 echo")
    };
    assert_eq!(echo.text, "from the old app");
    let at_agent = next_message(&mut agent).await;
    assert_eq!(
        (at_agent.conversation.get(), at_agent.seq, at_agent.text.as_str()),
        (20, 1, "from the old app")
    );

    send_message(&mut agent, "r", Some(20), "answer for 20 only").await;
    let ServerFrame::Chat(reply) = ServerFrame::decode(&next_text(&mut old_app).await) else {
        panic!("v0 reply")
    };
    assert_eq!((reply.uid, reply.text.as_str()), (AGENT_UID, "answer for 20 only"));
    send_text(&mut other_old_app, "heartbeat").await;
    assert_eq!(next_text(&mut other_old_app).await, "success", "user 21 got nothing");
}

#[tokio::test]
async fn a_v0_agent_reply_with_nobody_online_says_so() {
    let server = Server::in_process(&[]);
    let mut agent = v0(&server, AGENT_UID).await;
    send_text(&mut agent, "anyone?").await;
    let frame = ServerFrame::decode(&next_text(&mut agent).await);
    assert!(matches!(&frame, ServerFrame::Notice(n) if n.contains("no user online")), "{frame:?}");
}
