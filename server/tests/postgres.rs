//! The reference server on PostgreSQL (`--database postgres://…`, a throwaway cluster from
//! `kefu_testkit::postgres`): the agent account, a conversation with acks, a repeated send
//! acknowledged again, reads, a friendship and a peer message, and all of it still there
//! after `kill -9` and a restart; `/readyz` says the database is there.

use std::path::PathBuf;

use kefu_protocol::team::Status;
use kefu_protocol::v1::{ClientMessage, Position, ServerMessage};
use kefu_protocol::AGENT_UID;
use kefu_testkit::server::{release_binary, Server};
use kefu_testkit::team::Console;
use kefu_testkit::ws::{self, next_v1, send, Socket};
use kefu_testkit::{app_friendship_signed, app_token, http, postgres, APP_SECRET};

/// The next frame `wanted` picks, skipping others (presence, lists); ws::WAIT bounds each read.
async fn until<T>(socket: &mut Socket, wanted: impl Fn(&ServerMessage) -> Option<T>) -> T {
    loop {
        if let Some(found) = wanted(&next_v1(socket).await) {
            return found;
        }
    }
}

async fn ack_of(socket: &mut Socket, id: &str) -> (i64, u64) {
    until(socket, |frame| match frame {
        ServerMessage::Ack { id: acked, conversation, seq } if acked == id => {
            Some((conversation.get(), *seq))
        }
        _ => None,
    })
    .await
}

async fn v2_user(server: &Server, uid: i64) -> (Socket, Vec<ServerMessage>) {
    let url = format!(
        "{}?token={}",
        server.bare_ws_url(&uid.to_string()),
        app_token(uid, Some(&format!("u{uid}")))
    );
    let mut socket = ws::connect_v2(&url).await;
    let replay = ws::resume(&mut socket, vec![]).await;
    (socket, replay)
}

fn texts(replay: &[ServerMessage]) -> Vec<(i64, u64, String)> {
    replay
        .iter()
        .filter_map(|frame| match frame {
            ServerMessage::Message(m) => Some((m.conversation.get(), m.seq, m.text.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_keeps_everything_on_postgres_through_kill_9() {
    let database = PathBuf::from(postgres::fresh_database("server"));
    let mut server = Server::process_on(&release_binary(), database, &[]);
    let ready = http().get(&server.url("/readyz")).call().expect("GET /readyz");
    assert_eq!(ready.status().as_u16(), 200, "PostgreSQL reachable and writable");

    // Customer service: the agent signs in (its account is in PostgreSQL), a user writes.
    let mut agent = ws::connect_v1(&server.ws_url(&AGENT_UID.to_string())).await;
    ws::resume(&mut agent, vec![]).await;
    let mut user = ws::connect_v1(&server.ws_url("7")).await;
    ws::resume(&mut user, vec![]).await;
    for n in 1..=3 {
        send(
            &mut user,
            &ClientMessage::Send { id: format!("m{n}"), conversation: None, text: format!("hello {n}") },
        )
        .await;
        assert_eq!(ack_of(&mut user, &format!("m{n}")).await, (7, n));
    }
    send(&mut user, &ClientMessage::Send { id: "m2".into(), conversation: None, text: "hello 2".into() })
        .await;
    assert_eq!(ack_of(&mut user, "m2").await, (7, 2), "a repeated send gets the same ack");
    send(
        &mut agent,
        &ClientMessage::Read { conversation: Some(kefu_protocol::v1::ConversationId::lit(7)), seq: 3 },
    )
    .await;
    until(&mut user, |frame| matches!(frame, ServerMessage::Read { seq: 3, .. }).then_some(())).await;

    // Friends: the app's backend makes 8 and 9 friends; 8 writes to 9.
    let body = app_friendship_signed(APP_SECRET, 8, 9, true);
    let status =
        http().post(&server.url(kefu_protocol::api::APP_FRIENDSHIP_PATH)).send(body).expect("POST").status();
    assert_eq!(status.as_u16(), 200);
    let (mut ann, replay) = v2_user(&server, 8).await;
    let conversation = replay
        .iter()
        .find_map(|frame| match frame {
            ServerMessage::Friends(list) => list.friends.first().map(|f| f.conversation),
            _ => None,
        })
        .expect("8's friends list names 9");
    send(
        &mut ann,
        &ClientMessage::Send { id: "p1".into(), conversation: Some(conversation), text: "hi 9".into() },
    )
    .await;
    assert_eq!(ack_of(&mut ann, "p1").await, (conversation.get(), 1));

    // kill -9, restart on the same database: everything is there.
    server.signal(libc::SIGKILL);
    server.restart();
    let mut user = ws::connect_v1(&server.ws_url("7")).await;
    let replay = ws::resume(
        &mut user,
        vec![Position { conversation: kefu_protocol::v1::ConversationId::lit(7), seq: 0 }],
    )
    .await;
    let expected: Vec<(i64, u64, String)> = (1..=3).map(|n| (7, n, format!("hello {n}"))).collect();
    assert_eq!(texts(&replay), expected, "replayed once each, in order");
    assert!(
        replay.iter().any(|frame| matches!(frame, ServerMessage::Read { seq: 3, .. })),
        "the agents' read position is kept: {replay:?}"
    );
    let (mut bob, replay) = v2_user(&server, 9).await;
    let friends = replay.iter().find_map(|frame| match frame {
        ServerMessage::Friends(list) => Some(list.clone()),
        _ => None,
    });
    let friend = friends.as_ref().and_then(|list| list.friends.first()).expect("9's friend 8");
    assert_eq!((friend.person.uid.get(), friend.unread), (8, 1), "the peer message waits unread");
    send(&mut bob, &ClientMessage::History { conversation, before: 0, limit: Some(10) }).await;
    let page = until(&mut bob, |frame| match frame {
        ServerMessage::History { messages, .. } => {
            Some(messages.iter().map(|m| m.text.clone()).collect::<Vec<_>>())
        }
        _ => None,
    })
    .await;
    assert_eq!(page, vec!["hi 9".to_owned()]);
}

/// Friends `a` and `b`, set by the app's backend; the HTTP status.
fn befriend(server: &Server, a: i64, b: i64) -> u16 {
    let body = app_friendship_signed(APP_SECRET, a, b, true);
    http()
        .post(&server.url(kefu_protocol::api::APP_FRIENDSHIP_PATH))
        .send(body)
        .expect("POST")
        .status()
        .as_u16()
}

fn friends_of(replay: &[ServerMessage]) -> kefu_protocol::friends::Friends {
    replay
        .iter()
        .find_map(|frame| match frame {
            ServerMessage::Friends(list) => Some(list.clone()),
            _ => None,
        })
        .expect("a v2 replay carries the friends list")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_to_moves_an_sqlite_database_into_postgres() {
    let mut old = Server::start();
    // A guest: its token is signed with the server's key, which must come along.
    let mut response = http().post(&old.url(kefu_protocol::api::GUEST_PATH)).send_empty().expect("guest");
    let guest: serde_json::Value = response.body_mut().read_json().expect("guest JSON");
    let (uid, token) =
        (guest["uid"].as_i64().expect("uid"), guest["token"].as_str().expect("token").to_owned());
    let guest_url = format!("{}?token={token}", old.bare_ws_url(&uid.to_string()));
    let mut user = ws::connect_v1(&guest_url).await;
    ws::resume(&mut user, vec![]).await;
    for n in 1..=2 {
        send(
            &mut user,
            &ClientMessage::Send { id: format!("g{n}"), conversation: None, text: format!("guest {n}") },
        )
        .await;
        ack_of(&mut user, &format!("g{n}")).await;
    }
    let mut agent = ws::connect_v1(&old.ws_url(&AGENT_UID.to_string())).await;
    ws::resume(&mut agent, vec![]).await;
    send(
        &mut agent,
        &ClientMessage::Read { conversation: Some(kefu_protocol::v1::ConversationId::lit(uid)), seq: 1 },
    )
    .await;
    until(&mut user, |frame| matches!(frame, ServerMessage::Read { seq: 1, .. }).then_some(())).await;
    // Friends 8 and 9 with a message; 10 blocks 8; 8 asks 11.
    assert_eq!(befriend(&old, 8, 9), 200);
    let (mut eight, replay) = v2_user(&old, 8).await;
    let conversation = friends_of(&replay).friends[0].conversation;
    send(
        &mut eight,
        &ClientMessage::Send { id: "p1".into(), conversation: Some(conversation), text: "hi 9".into() },
    )
    .await;
    ack_of(&mut eight, "p1").await;
    let (mut ten, _) = v2_user(&old, 10).await;
    let (_eleven, _) = v2_user(&old, 11).await;
    send(&mut ten, &ClientMessage::Block { uid: kefu_protocol::ids::UserId::lit(8) }).await;
    send(
        &mut eight,
        &ClientMessage::Befriend {
            uid: kefu_protocol::ids::UserId::lit(11),
            note: "hello".into(),
            invite: None,
        },
    )
    .await;
    until(&mut eight, |frame| match frame {
        ServerMessage::Friends(list) if !list.outgoing.is_empty() => Some(()),
        _ => None,
    })
    .await;
    until(&mut ten, |frame| match frame {
        ServerMessage::Friends(list) if !list.blocked.is_empty() => Some(()),
        _ => None,
    })
    .await;
    // The team inbox: the guest's conversation resolved, with a note; a canned reply.
    let guest_conversation = kefu_protocol::v1::ConversationId::lit(uid);
    let mut console = Console::connect(&old.ws_url(&AGENT_UID.to_string())).await;
    console
        .send(ClientMessage::Note {
            id: "n1".into(),
            conversation: guest_conversation,
            text: "a note".into(),
        })
        .await;
    console
        .send(ClientMessage::SetStatus {
            conversation: guest_conversation,
            status: Status::Resolved,
            until: None,
        })
        .await;
    console
        .send(ClientMessage::SaveCanned { id: None, shortcut: "hi".into(), text: "Hi {name}".into() })
        .await;
    console
        .until("all three", |c, _| {
            c.status(guest_conversation) == Some(Status::Resolved) && c.canned.len() == 1
        })
        .await;
    old.signal(libc::SIGTERM);
    assert!(old.wait().success());

    let target = postgres::fresh_database("copy");
    let (ok, output) = old.command(&["copy-to", &target]);
    assert!(ok, "copy-to: {output}");
    assert!(output.contains("copied 3 messages, 1 read positions, 1 agents"), "{output}");
    let (ok, output) = old.command(&["copy-to", &target]);
    assert!(!ok && output.contains("not empty"), "a second copy is refused: {output}");

    let new = Server::process_on(&release_binary(), PathBuf::from(&target), &[]);
    let guest_url = format!("{}?token={token}", new.bare_ws_url(&uid.to_string()));
    let mut user = ws::connect_v1(&guest_url).await;
    let replay = ws::resume(
        &mut user,
        vec![Position { conversation: kefu_protocol::v1::ConversationId::lit(uid), seq: 0 }],
    )
    .await;
    let expected: Vec<(i64, u64, String)> = (1..=2).map(|n| (uid, n, format!("guest {n}"))).collect();
    assert_eq!(texts(&replay), expected, "the guest (the server's key) and its messages");
    assert!(
        replay.iter().any(|frame| matches!(frame, ServerMessage::Read { agent: true, seq: 1, .. })),
        "{replay:?}"
    );
    let (_, replay) = v2_user(&new, 9).await;
    let nine = friends_of(&replay);
    assert_eq!(nine.friends.len(), 1);
    assert_eq!((nine.friends[0].person.uid.get(), nine.friends[0].unread), (8, 1));
    assert_eq!(nine.friends[0].last.as_ref().map(|m| m.text.as_str()), Some("hi 9"));
    let (_, replay) = v2_user(&new, 10).await;
    assert_eq!(friends_of(&replay).blocked.iter().map(|p| p.uid.get()).collect::<Vec<_>>(), vec![8]);
    let (_, replay) = v2_user(&new, 11).await;
    let incoming = friends_of(&replay).incoming;
    assert_eq!((incoming.len(), incoming[0].person.uid.get(), incoming[0].note.as_str()), (1, 8, "hello"));
    // The team inbox came along.
    let mut console = Console::connect(&new.ws_url(&AGENT_UID.to_string())).await;
    assert_eq!(console.status(guest_conversation), Some(Status::Resolved));
    assert_eq!(console.canned.iter().map(|c| c.shortcut.as_str()).collect::<Vec<_>>(), vec!["hi"]);
    console.send(ClientMessage::Events { conversation: guest_conversation }).await;
    console.until("the timeline", |_, f| matches!(f, Some(ServerMessage::TeamEvents { .. }))).await;
    assert!(console.events.iter().any(|e| e.text == "a note"), "{:?}", console.events);
    // A new note is numbered after the copied ones.
    console
        .send(ClientMessage::Note { id: "n2".into(), conversation: guest_conversation, text: "after".into() })
        .await;
    console.until("noted", |_, f| matches!(f, Some(ServerMessage::Noted { .. }))).await;
    // A new friendship gets a new pair after the copied ones.
    assert_eq!(befriend(&new, 12, 13), 200);
    let (_, replay) = v2_user(&new, 12).await;
    assert_ne!(friends_of(&replay).friends[0].conversation, conversation);
}

/// A PostgreSQL outage: a send is answered `unavailable` (the page keeps it and sends it
/// again) while the connection stays alive — a heartbeat sent after it is answered within the
/// page's heartbeat timeout (1.5 s), so no page takes its link for dead — and once the
/// database is back the same send is stored once. (Before: the session waited 5 s for a
/// database connection, answering nothing, and pages dropped their links.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_answered_unavailable_and_the_link_stays_alive() {
    let mut database = postgres::Own::start("outage");
    let server = Server::process_on(&release_binary(), PathBuf::from(database.url()), &[]);
    let url = format!("{}?token={}", server.bare_ws_url("12"), app_token(12, Some("Twelve")));
    let mut user = ws::connect_v1(&url).await;
    ws::resume(&mut user, vec![]).await;
    let send_one =
        ClientMessage::Send { id: "o1".into(), conversation: None, text: "during the outage".into() };

    database.stop();
    let sent = std::time::Instant::now();
    send(&mut user, &send_one).await;
    ws::send_text(&mut user, kefu_protocol::HEARTBEAT).await;
    let mut refused = false;
    loop {
        let text = ws::next_text(&mut user).await;
        if text == kefu_protocol::HEARTBEAT_ACK {
            break;
        }
        if let Ok(ServerMessage::Error { code: kefu_protocol::v1::ErrorCode::Unavailable, id, .. }) =
            ServerMessage::decode(&text)
        {
            assert_eq!(id.as_deref(), Some("o1"));
            refused = true;
        }
    }
    let answered = sent.elapsed();
    println!(
        "during a database outage: unavailable and the heartbeat answered after {} ms",
        answered.as_millis()
    );
    assert!(refused, "the send is refused with `unavailable` before the heartbeat's answer");
    assert!(answered < std::time::Duration::from_millis(1_500), "the link looked dead: {answered:?}");

    database.start_again();
    kefu_testkit::eventually(
        "the send stored once the database is back",
        std::time::Duration::from_secs(20),
        || {
            let url = url.clone();
            let send_one = send_one.clone();
            async move {
                let mut again = ws::connect_v1(&url).await;
                ws::resume(&mut again, vec![]).await;
                send(&mut again, &send_one).await;
                match next_v1(&mut again).await {
                    ServerMessage::Message(m) if m.id == "o1" => Some(()),
                    ServerMessage::Ack { id, .. } if id == "o1" => Some(()),
                    _ => None,
                }
            }
        },
    )
    .await;
}
