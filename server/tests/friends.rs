//! Friends and peer conversations (protocol v2) against the reference server, from plain
//! WebSocket clients: requests, invites, the app's API, peer chat with acks, typing, reads and
//! presence, blocks, and privacy against a third user and the agents.

use kefu_protocol::friends::{Friends, MAX_NOTE_CHARS, MAX_REQUESTS_PER_WINDOW};
use kefu_protocol::ids::{ConversationId, UserId};
use kefu_protocol::v1::{ClientMessage, ErrorCode, Position, ServerMessage};
use kefu_protocol::AGENT_UID;
use kefu_testkit::server::Server;
use kefu_testkit::ws::{self, assert_nothing_pending, next_v1, send, Socket};
use kefu_testkit::{app_friendship_signed, app_token, http, APP_SECRET};

const ANN: UserId = UserId::lit(101);
const BOB: UserId = UserId::lit(102);
const EVE: UserId = UserId::lit(103);

/// A v2 user page's connection, resumed: its socket and its first friends list.
async fn user(
    server: &Server,
    uid: UserId,
    name: &str,
    after: Vec<Position>,
) -> (Socket, Friends, Vec<ServerMessage>) {
    let url = format!("{}?token={}", server.bare_ws_url(&uid.to_string()), app_token(uid.get(), Some(name)));
    let mut socket = ws::connect_v2(&url).await;
    let replay = ws::resume(&mut socket, after).await;
    let friends = replay
        .iter()
        .find_map(|frame| match frame {
            ServerMessage::Friends(friends) => Some(friends.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("a v2 replay carries the friends list: {replay:?}"));
    (socket, friends, replay)
}

/// The next frame that `wanted` picks, skipping the others (presence and lists that a test
/// does not look at). Panics after 5 s (the socket's wait) without one.
async fn until<T>(socket: &mut Socket, wanted: impl Fn(&ServerMessage) -> Option<T>) -> T {
    loop {
        if let Some(found) = wanted(&next_v1(socket).await) {
            return found;
        }
    }
}

async fn next_friends(socket: &mut Socket) -> Friends {
    until(socket, |frame| match frame {
        ServerMessage::Friends(friends) => Some(friends.clone()),
        _ => None,
    })
    .await
}

async fn next_error(socket: &mut Socket) -> (ErrorCode, String) {
    until(socket, |frame| match frame {
        ServerMessage::Error { code, message, .. } => Some((*code, message.clone())),
        _ => None,
    })
    .await
}

fn friend_uids(friends: &Friends) -> Vec<UserId> {
    friends.friends.iter().map(|f| f.person.uid).collect()
}

/// Ann asks Bob, Bob accepts: their conversation id.
async fn befriend(ann: &mut Socket, bob: &mut Socket) -> ConversationId {
    send(ann, &ClientMessage::Befriend { uid: BOB, note: "hi, it's Ann".into(), invite: None }).await;
    let bobs = next_friends(bob).await;
    assert_eq!(bobs.incoming.len(), 1);
    assert_eq!((bobs.incoming[0].person.uid, bobs.incoming[0].note.as_str()), (ANN, "hi, it's Ann"));
    assert_eq!(bobs.incoming[0].person.name, "Ann");
    assert_eq!(next_friends(ann).await.outgoing.len(), 1, "Ann sees her pending request");
    send(bob, &ClientMessage::Answer { uid: ANN, accept: true }).await;
    let bobs = next_friends(bob).await;
    let anns = next_friends(ann).await;
    assert_eq!((friend_uids(&bobs), friend_uids(&anns)), (vec![ANN], vec![BOB]));
    assert!(bobs.incoming.is_empty() && anns.outgoing.is_empty());
    assert!(anns.friends[0].online, "Bob is connected");
    assert_eq!(anns.friends[0].conversation, bobs.friends[0].conversation);
    assert!(anns.friends[0].conversation.is_peer());
    anns.friends[0].conversation
}

#[tokio::test]
async fn friends_by_request_chat_with_acks_typing_reads_and_presence() {
    let server = Server::in_process(&[]);
    let (mut ann, first, _) = user(&server, ANN, "Ann", vec![]).await;
    assert!(first.friends.is_empty() && !first.invite.is_empty());
    let (mut bob, _, _) = user(&server, BOB, "Bob", vec![]).await;
    let conversation = befriend(&mut ann, &mut bob).await;

    // Ann writes: acked, echoed to her, delivered to Bob.
    let hello =
        ClientMessage::Send { id: "a1".into(), conversation: Some(conversation), text: "你好 Bob".into() };
    send(&mut ann, &hello).await;
    let delivered = until(&mut bob, |f| match f {
        ServerMessage::Message(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!((delivered.conversation, delivered.seq, delivered.uid), (conversation, 1, ANN.get()));
    assert_eq!((delivered.text.as_str(), delivered.username.as_str()), ("你好 Bob", "Ann"));
    let ack = until(&mut ann, |f| matches!(f, ServerMessage::Ack { .. }).then(|| f.clone())).await;
    assert_eq!(ack, ServerMessage::Ack { id: "a1".into(), conversation, seq: 1 });
    // A repeat is acknowledged again, not stored twice.
    send(&mut ann, &hello).await;
    let ack = until(&mut ann, |f| matches!(f, ServerMessage::Ack { .. }).then(|| f.clone())).await;
    assert_eq!(ack, ServerMessage::Ack { id: "a1".into(), conversation, seq: 1 });

    // Bob types and reads; Ann hears both, with who did it.
    send(&mut bob, &ClientMessage::Typing { conversation: Some(conversation) }).await;
    let typing =
        until(&mut ann, |f| matches!(f, ServerMessage::MemberTyping { .. }).then(|| f.clone())).await;
    assert_eq!(typing, ServerMessage::MemberTyping { conversation, uid: BOB });
    send(&mut bob, &ClientMessage::Read { conversation: Some(conversation), seq: 1 }).await;
    let read = until(&mut ann, |f| matches!(f, ServerMessage::MemberRead { .. }).then(|| f.clone())).await;
    assert_eq!(read, ServerMessage::MemberRead { conversation, uid: BOB, seq: 1 });

    // Bob answers; history pages work for members.
    send(
        &mut bob,
        &ClientMessage::Send { id: "b1".into(), conversation: Some(conversation), text: "hi!".into() },
    )
    .await;
    until(&mut ann, |f| matches!(f, ServerMessage::Message(m) if m.seq == 2).then_some(())).await;
    send(&mut ann, &ClientMessage::History { conversation, before: 0, limit: None }).await;
    let page = until(&mut ann, |f| match f {
        ServerMessage::History { messages, .. } => {
            Some(messages.iter().map(|m| m.text.clone()).collect::<Vec<_>>())
        }
        _ => None,
    })
    .await;
    assert_eq!(page, vec!["你好 Bob", "hi!"]);

    // Bob leaves: Ann is told; he comes back: told again, and his list shows what is unread.
    drop(bob);
    let gone =
        until(&mut ann, |f| matches!(f, ServerMessage::FriendPresence { .. }).then(|| f.clone())).await;
    assert_eq!(gone, ServerMessage::FriendPresence { uid: BOB, online: false });
    send(
        &mut ann,
        &ClientMessage::Send {
            id: "a2".into(),
            conversation: Some(conversation),
            text: "still there?".into(),
        },
    )
    .await;
    until(&mut ann, |f| matches!(f, ServerMessage::Ack { seq: 3, .. }).then_some(())).await;
    let (mut bob, bobs, replay) = user(&server, BOB, "Bob", vec![Position { conversation, seq: 2 }]).await;
    assert!(
        replay
            .iter()
            .any(|f| matches!(f, ServerMessage::Message(m) if m.seq == 3 && m.text == "still there?")),
        "a message to an offline friend arrives when they return: {replay:?}"
    );
    assert!(replay.contains(&ServerMessage::MemberRead { conversation, uid: BOB, seq: 1 }), "{replay:?}");
    let ann_in_bobs = &bobs.friends[0];
    assert_eq!((ann_in_bobs.unread, ann_in_bobs.last.as_ref().map(|m| m.seq)), (1, Some(3)), "a2 is unread");
    assert!(ann_in_bobs.online);
    let back =
        until(&mut ann, |f| matches!(f, ServerMessage::FriendPresence { .. }).then(|| f.clone())).await;
    assert_eq!(back, ServerMessage::FriendPresence { uid: BOB, online: true });

    // Unfriended: the conversation is closed to new messages and typing, with a clear code.
    send(&mut bob, &ClientMessage::Unfriend { uid: ANN }).await;
    assert!(next_friends(&mut ann).await.friends.is_empty());
    send(
        &mut ann,
        &ClientMessage::Send { id: "a3".into(), conversation: Some(conversation), text: "?".into() },
    )
    .await;
    assert_eq!(next_error(&mut ann).await.0, ErrorCode::NotFriends);
}

#[tokio::test]
async fn a_third_user_and_the_agents_never_see_a_peer_conversation() {
    let server = Server::in_process(&[]);
    let (mut agent, _) = {
        let mut socket = ws::connect_v1(&server.ws_url(&AGENT_UID.to_string())).await;
        let replay = ws::resume(&mut socket, vec![]).await;
        (socket, replay)
    };
    let (mut ann, _, _) = user(&server, ANN, "Ann", vec![]).await;
    let (mut bob, _, _) = user(&server, BOB, "Bob", vec![]).await;
    let (mut eve, _, _) = user(&server, EVE, "Eve", vec![]).await;
    let conversation = befriend(&mut ann, &mut bob).await;
    send(
        &mut ann,
        &ClientMessage::Send { id: "a1".into(), conversation: Some(conversation), text: "secret".into() },
    )
    .await;
    until(&mut bob, |f| matches!(f, ServerMessage::Message(_)).then_some(())).await;
    until(&mut ann, |f| matches!(f, ServerMessage::Ack { .. }).then_some(())).await;

    // Eve tries everything on their conversation: each refused, nothing delivered.
    let forged = [
        ClientMessage::Send { id: "e1".into(), conversation: Some(conversation), text: "hi".into() },
        ClientMessage::History { conversation, before: 0, limit: None },
        ClientMessage::Read { conversation: Some(conversation), seq: 1 },
        ClientMessage::Typing { conversation: Some(conversation) },
    ];
    for frame in forged {
        send(&mut eve, &frame).await;
        assert_eq!(next_error(&mut eve).await.0, ErrorCode::UnknownConversation, "{frame:?}");
    }
    let (mut eve2, _, replay) = user(&server, EVE, "Eve", vec![Position { conversation, seq: 0 }]).await;
    assert!(
        replay.iter().any(|f| matches!(f, ServerMessage::Error { code: ErrorCode::UnknownConversation, .. })),
        "resume naming their conversation is refused: {replay:?}"
    );
    assert!(!replay.iter().any(|f| matches!(f, ServerMessage::Message(_))), "{replay:?}");
    // Ann and Bob heard nothing of Eve; Eve never hears their presence or messages.
    assert_nothing_pending(&mut ann, |t| t.contains("\"friend_presence\"") && !t.contains(&EVE.to_string()))
        .await;
    drop(bob);
    until(&mut ann, |f| matches!(f, ServerMessage::FriendPresence { online: false, .. }).then_some(())).await;
    assert_nothing_pending(&mut eve, ws::nothing).await;
    assert_nothing_pending(&mut eve2, ws::nothing).await;

    // Agents: no peer message reached them, and they cannot address the conversation.
    assert_nothing_pending(&mut agent, |t| t.contains("\"presence\"")).await;
    send(&mut agent, &ClientMessage::History { conversation, before: 0, limit: None }).await;
    assert_eq!(next_error(&mut agent).await.0, ErrorCode::UnknownConversation);
    send(
        &mut agent,
        &ClientMessage::Send { id: "x".into(), conversation: Some(conversation), text: "hi".into() },
    )
    .await;
    assert_eq!(next_error(&mut agent).await.0, ErrorCode::UnknownConversation);
    send(&mut agent, &ClientMessage::Befriend { uid: ANN, note: String::new(), invite: None }).await;
    assert_eq!(next_error(&mut agent).await.0, ErrorCode::UnknownType, "agents have no friends");
    let mut late_agent = ws::connect_v1(&server.ws_url(&AGENT_UID.to_string())).await;
    let replay = ws::resume(&mut late_agent, vec![]).await;
    assert!(
        !replay
            .iter()
            .any(|f| matches!(f, ServerMessage::History { conversation: c, .. } if *c == conversation)),
        "{replay:?}"
    );

    // A request flood is cut at the documented limit.
    let mut refused = 0;
    for _ in 0..MAX_REQUESTS_PER_WINDOW + 5 {
        send(&mut eve, &ClientMessage::Befriend { uid: ANN, note: String::new(), invite: None }).await;
    }
    // Every accepted one answers with a list (to Eve); each refused one with an error.
    let mut lists = 0;
    while lists + refused < MAX_REQUESTS_PER_WINDOW + 5 {
        match next_v1(&mut eve).await {
            ServerMessage::Friends(_) => lists += 1,
            ServerMessage::Error { code: ErrorCode::RateLimited, .. } => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((lists, refused), (MAX_REQUESTS_PER_WINDOW, 5));
}

#[tokio::test]
async fn invites_crossing_requests_and_refusals_say_why() {
    let server = Server::in_process(&[]);
    let (mut ann, anns, _) = user(&server, ANN, "Ann", vec![]).await;
    let (mut bob, _, _) = user(&server, BOB, "Bob", vec![]).await;
    let (mut eve, eves, _) = user(&server, EVE, "Eve", vec![]).await;

    // The invite says who it is from; only the right one works.
    let invite = anns.invite.clone();
    send(
        &mut bob,
        &ClientMessage::Befriend { uid: ANN, note: String::new(), invite: Some(eves.invite.clone()) },
    )
    .await;
    assert_eq!(next_error(&mut bob).await.0, ErrorCode::BadInvite, "Eve's invite is not Ann's");
    send(
        &mut bob,
        &ClientMessage::Befriend { uid: ANN, note: String::new(), invite: Some(format!("{invite}x")) },
    )
    .await;
    assert_eq!(next_error(&mut bob).await.0, ErrorCode::BadInvite, "a forged invite");
    let by_invite = ClientMessage::Befriend { uid: ANN, note: String::new(), invite: Some(invite.clone()) };
    send(&mut bob, &by_invite).await;
    assert_eq!(friend_uids(&next_friends(&mut bob).await), vec![ANN], "an invite needs no answer");
    assert_eq!(friend_uids(&next_friends(&mut ann).await), vec![BOB]);

    // Ann removes Bob: her old invite does not make them friends again (before, it did,
    // without her consent); nor after a block and an unblock.
    send(&mut ann, &ClientMessage::Unfriend { uid: BOB }).await;
    let renewed = next_friends(&mut ann).await.invite;
    next_friends(&mut bob).await;
    assert_ne!(renewed, invite, "a new link after a removal");
    send(&mut bob, &by_invite).await;
    assert_eq!(next_error(&mut bob).await.0, ErrorCode::BadInvite, "an invite from before the removal");
    send(&mut ann, &ClientMessage::Block { uid: BOB }).await;
    next_friends(&mut ann).await;
    next_friends(&mut bob).await;
    send(&mut ann, &ClientMessage::Unblock { uid: BOB }).await;
    let after_unblock = next_friends(&mut ann).await.invite;
    next_friends(&mut bob).await;
    let old = ClientMessage::Befriend { uid: ANN, note: String::new(), invite: Some(renewed) };
    send(&mut bob, &old).await;
    assert_eq!(next_error(&mut bob).await.0, ErrorCode::BadInvite, "an invite from before the block");
    // A new link replaces the old one: the old stops working, the new one works.
    send(&mut ann, &ClientMessage::NewInvite).await;
    let newest = next_friends(&mut ann).await.invite;
    let stale = ClientMessage::Befriend { uid: ANN, note: String::new(), invite: Some(after_unblock) };
    send(&mut bob, &stale).await;
    assert_eq!(next_error(&mut bob).await.0, ErrorCode::BadInvite, "replaced by a newer link");
    send(&mut bob, &ClientMessage::Befriend { uid: ANN, note: String::new(), invite: Some(newest) }).await;
    assert_eq!(friend_uids(&next_friends(&mut bob).await), vec![ANN], "the newest link works");
    assert_eq!(friend_uids(&next_friends(&mut ann).await), vec![BOB]);

    // Two crossing requests make a friendship.
    send(&mut eve, &ClientMessage::Befriend { uid: BOB, note: String::new(), invite: None }).await;
    next_friends(&mut eve).await;
    next_friends(&mut bob).await;
    send(&mut bob, &ClientMessage::Befriend { uid: EVE, note: String::new(), invite: None }).await;
    let bobs = next_friends(&mut bob).await;
    assert_eq!(bobs.friends.len(), 2);
    assert!(bobs.incoming.is_empty() && bobs.outgoing.is_empty());

    // Clear refusals.
    let long = "字".repeat(MAX_NOTE_CHARS + 1);
    send(&mut eve, &ClientMessage::Befriend { uid: ANN, note: long, invite: None }).await;
    assert_eq!(next_error(&mut eve).await.0, ErrorCode::Oversize);
    send(&mut eve, &ClientMessage::Befriend { uid: UserId::lit(999), note: String::new(), invite: None })
        .await;
    assert_eq!(next_error(&mut eve).await.0, ErrorCode::UnknownUser, "nobody by that id");
    send(&mut eve, &ClientMessage::Befriend { uid: EVE, note: String::new(), invite: None }).await;
    assert_eq!(next_error(&mut eve).await.0, ErrorCode::UnknownUser, "not oneself");
    send(&mut eve, &ClientMessage::Answer { uid: ANN, accept: true }).await;
    assert_eq!(next_error(&mut eve).await.0, ErrorCode::UnknownUser, "no request to answer");

    // Declined and cancelled requests disappear from both lists.
    send(&mut eve, &ClientMessage::Befriend { uid: ANN, note: "hello".into(), invite: None }).await;
    assert_eq!(next_friends(&mut eve).await.outgoing.len(), 1);
    assert_eq!(next_friends(&mut ann).await.incoming.len(), 1);
    send(&mut ann, &ClientMessage::Answer { uid: EVE, accept: false }).await;
    assert!(next_friends(&mut ann).await.incoming.is_empty());
    assert!(next_friends(&mut eve).await.outgoing.is_empty());
    send(&mut eve, &ClientMessage::Befriend { uid: ANN, note: String::new(), invite: None }).await;
    assert_eq!(next_friends(&mut eve).await.outgoing.len(), 1);
    send(&mut eve, &ClientMessage::Cancel { uid: ANN }).await;
    assert!(next_friends(&mut eve).await.outgoing.is_empty());

    // A v1 connection does not know friend frames.
    let mut v1 = ws::connect_v1(&server.ws_url(&ANN.to_string())).await;
    ws::resume(&mut v1, vec![]).await;
    send(&mut v1, &ClientMessage::Befriend { uid: BOB, note: String::new(), invite: None }).await;
    assert_eq!(next_error(&mut v1).await.0, ErrorCode::UnknownType);
}

#[tokio::test]
async fn a_block_refuses_messages_and_requests_and_hides_presence_until_unblocked() {
    let server = Server::in_process(&[]);
    let (mut ann, _, _) = user(&server, ANN, "Ann", vec![]).await;
    let (mut bob, _, _) = user(&server, BOB, "Bob", vec![]).await;
    let conversation = befriend(&mut ann, &mut bob).await;
    let before = ClientMessage::Send { id: "a0".into(), conversation: Some(conversation), text: "hi".into() };
    send(&mut ann, &before).await;
    until(&mut ann, |f| matches!(f, ServerMessage::Ack { .. }).then_some(())).await;
    until(&mut bob, |f| matches!(f, ServerMessage::Message(_)).then_some(())).await;

    send(&mut ann, &ClientMessage::Block { uid: BOB }).await;
    let anns = next_friends(&mut ann).await;
    assert!(anns.friends.is_empty());
    assert_eq!(anns.blocked.iter().map(|p| p.uid).collect::<Vec<_>>(), vec![BOB]);
    assert!(next_friends(&mut bob).await.friends.is_empty());
    send(
        &mut bob,
        &ClientMessage::Send { id: "b1".into(), conversation: Some(conversation), text: "why?".into() },
    )
    .await;
    assert_eq!(next_error(&mut bob).await.0, ErrorCode::Blocked);
    send(&mut bob, &ClientMessage::Befriend { uid: ANN, note: String::new(), invite: None }).await;
    assert_eq!(next_error(&mut bob).await.0, ErrorCode::Blocked);
    // Bob's read of Ann's message is his own business now: his tabs hear of it, Ann does not.
    send(&mut bob, &ClientMessage::Read { conversation: Some(conversation), seq: 1 }).await;
    let read = until(&mut bob, |f| matches!(f, ServerMessage::MemberRead { .. }).then(|| f.clone())).await;
    assert_eq!(read, ServerMessage::MemberRead { conversation, uid: BOB, seq: 1 });
    assert_nothing_pending(&mut bob, ws::nothing).await;
    assert_nothing_pending(&mut ann, ws::nothing).await;
    // Presence is hidden both ways.
    drop(bob);
    assert_nothing_pending(&mut ann, ws::nothing).await;
    let (mut bob, _, _) = user(&server, BOB, "Bob", vec![]).await;
    assert_nothing_pending(&mut ann, ws::nothing).await;
    // The app's backend cannot override a block either.
    let body = app_friendship_signed(APP_SECRET, ANN.get(), BOB.get(), true);
    let response =
        http().post(&server.url(kefu_protocol::api::APP_FRIENDSHIP_PATH)).send(body).expect("POST");
    assert_eq!(response.status().as_u16(), 409);

    send(&mut ann, &ClientMessage::Unblock { uid: BOB }).await;
    assert!(next_friends(&mut ann).await.blocked.is_empty());
    send(&mut bob, &ClientMessage::Befriend { uid: ANN, note: String::new(), invite: None }).await;
    assert_eq!(next_friends(&mut ann).await.incoming.len(), 1, "requests pass again");
}

#[tokio::test]
async fn the_apps_backend_sets_and_ends_friendships_live() {
    let server = Server::in_process(&[]);
    let (mut ann, _, _) = user(&server, ANN, "Ann", vec![]).await;
    let (mut bob, _, _) = user(&server, BOB, "Bob", vec![]).await;
    let post = |body: String| {
        let mut response =
            http().post(&server.url(kefu_protocol::api::APP_FRIENDSHIP_PATH)).send(body).expect("POST");
        (response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default())
    };
    assert_eq!(post(app_friendship_signed("not-the-secret", ANN.get(), BOB.get(), true)).0, 401);
    assert_eq!(post("not a token".into()).0, 401);
    assert_eq!(post(app_friendship_signed(APP_SECRET, ANN.get(), ANN.get(), true)).0, 400);
    let (status, body) = post(app_friendship_signed(APP_SECRET, ANN.get(), BOB.get(), true));
    assert_eq!(status, 200, "{body}");
    assert_eq!(friend_uids(&next_friends(&mut ann).await), vec![BOB]);
    assert_eq!(friend_uids(&next_friends(&mut bob).await), vec![ANN]);
    // A user who has never connected can be named: they find the friend on arrival.
    assert_eq!(post(app_friendship_signed(APP_SECRET, ANN.get(), EVE.get(), true)).0, 200);
    assert_eq!(next_friends(&mut ann).await.friends.len(), 2);
    let (_eve, eves, _) = user(&server, EVE, "Eve", vec![]).await;
    assert_eq!(friend_uids(&eves), vec![ANN]);
    assert_eq!(eves.friends[0].person.name, "Ann");
    // A picture from the app's token shows on friends' lists.
    let picture = "https://cdn.example/eve.png";
    let url = format!(
        "{}?token={}",
        server.bare_ws_url(&EVE.to_string()),
        kefu_testkit::app_token_with_avatar(EVE.get(), "Eve", picture)
    );
    let mut eve_again = ws::connect_v2(&url).await;
    ws::resume(&mut eve_again, vec![]).await;
    // Any change sends both lists again (an unblock of someone not blocked changes nothing).
    send(&mut eve_again, &ClientMessage::Unblock { uid: ANN }).await;
    let anns = next_friends(&mut ann).await;
    let eve_in_anns = anns.friends.iter().find(|f| f.person.uid == EVE).expect("Eve");
    assert_eq!(eve_in_anns.person.avatar, picture);
    assert_eq!(post(app_friendship_signed(APP_SECRET, ANN.get(), BOB.get(), false)).0, 200);
    assert_eq!(friend_uids(&next_friends(&mut bob).await), Vec::<UserId>::new());

    // A body is applied once, never after a later one for the pair, and lives 5 minutes at
    // most. (Before: "friends", "not friends", then the first body again made them friends.)
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let body = |friends: bool, iat: u64, exp: u64| {
        kefu_testkit::app_friendship_claims(
            APP_SECRET,
            serde_json::json!({ "a": ANN.get(), "b": BOB.get(), "friends": friends, "iat": iat, "exp": exp }),
        )
    };
    let yes = body(true, now, now + 60);
    assert_eq!(post(yes.clone()).0, 200);
    assert_eq!(friend_uids(&next_friends(&mut bob).await), vec![ANN]);
    assert_eq!(post(body(false, now, now + 60)).0, 200);
    assert_eq!(friend_uids(&next_friends(&mut bob).await), Vec::<UserId>::new());
    let (status, why) = post(yes);
    assert_eq!(status, 409, "the same body again: {why}");
    assert_eq!(post(body(true, now - 10, now + 60)).0, 409, "issued before the last one applied");
    assert_eq!(post(body(true, now, now + (1 << 40))).0, 401, "an expiry of 2^40 s");
    assert_eq!(post(body(true, now, now + kefu_protocol::friends::MAX_APP_BODY_SECS + 60)).0, 401);
    let no_iat = kefu_testkit::app_friendship_claims(
        APP_SECRET,
        serde_json::json!({ "a": ANN.get(), "b": BOB.get(), "friends": true, "exp": now + 60 }),
    );
    assert_eq!(post(no_iat).0, 401, "a body says when it was signed");
    assert_nothing_pending(&mut bob, |text| !text.contains("\"friends\"")).await;
    assert!(!server_has_friends(&mut bob, ANN).await, "still not friends");
}

/// Whether `other` is in `socket`'s friends list, asked anew (a new invite link sends it).
async fn server_has_friends(socket: &mut Socket, other: UserId) -> bool {
    send(socket, &ClientMessage::NewInvite).await;
    friend_uids(&next_friends(socket).await).contains(&other)
}

#[tokio::test]
async fn the_documented_openssl_example_sets_a_friendship() {
    let server = Server::in_process(&[]);
    let (mut ann, _, _) = user(&server, ANN, "Ann", vec![]).await;
    let script = kefu_testkit::repo_root().join("scripts/example-app-friendship.sh");
    let body = |friends: &str| {
        let output = std::process::Command::new("bash")
            .arg(&script)
            .args([APP_SECRET, &ANN.to_string(), &BOB.to_string(), friends])
            .output()
            .expect("run the example");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    let url = server.url(kefu_protocol::api::APP_FRIENDSHIP_PATH);
    assert_eq!(http().post(&url).send(body("true")).expect("POST").status().as_u16(), 200);
    assert_eq!(friend_uids(&next_friends(&mut ann).await), vec![BOB]);
    assert_eq!(http().post(&url).send(body("false")).expect("POST").status().as_u16(), 200);
    assert!(next_friends(&mut ann).await.friends.is_empty());
}

/// Like the web app's outbox: sends every id not yet acknowledged, and returns once all are.
async fn send_until_acked(socket: &mut Socket, conversation: ConversationId, ids: &[String]) {
    for id in ids {
        let frame = ClientMessage::Send {
            id: id.clone(),
            conversation: Some(conversation),
            text: format!("text {id}"),
        };
        send(socket, &frame).await;
    }
    let mut acked = std::collections::HashSet::new();
    while acked.len() < ids.len() {
        if let ServerMessage::Ack { id, .. } = next_v1(socket).await {
            acked.insert(id);
        }
    }
}

#[tokio::test]
async fn a_peer_conversation_survives_kill_9_three_times_with_nothing_lost_or_doubled() {
    let mut server = Server::process(env!("CARGO_BIN_EXE_kefu-server").as_ref(), &[]);
    let (mut ann, _, _) = user(&server, ANN, "Ann", vec![]).await;
    let (mut bob, _, _) = user(&server, BOB, "Bob", vec![]).await;
    let conversation = befriend(&mut ann, &mut bob).await;
    let mut all_ids = vec![];
    for round in 0..3 {
        let ann_ids: Vec<String> = (0..5).map(|n| format!("a{round}-{n}")).collect();
        let bob_ids: Vec<String> = (0..5).map(|n| format!("b{round}-{n}")).collect();
        // Both write; the server is killed while their messages are on the way.
        for (socket, ids) in [(&mut ann, &ann_ids), (&mut bob, &bob_ids)] {
            for id in ids.iter() {
                let frame = ClientMessage::Send {
                    id: id.clone(),
                    conversation: Some(conversation),
                    text: format!("text {id}"),
                };
                send(socket, &frame).await;
            }
        }
        server.signal(libc::SIGKILL);
        server.wait();
        server.restart();
        // Back, each sends again what it cannot know was stored: stored once, whatever happened.
        let (mut a, _, _) = user(&server, ANN, "Ann", vec![]).await;
        let (mut b, _, _) = user(&server, BOB, "Bob", vec![]).await;
        send_until_acked(&mut a, conversation, &ann_ids).await;
        send_until_acked(&mut b, conversation, &bob_ids).await;
        (ann, bob) = (a, b);
        all_ids.extend(ann_ids.into_iter().chain(bob_ids));
    }
    send(&mut ann, &ClientMessage::History { conversation, before: 0, limit: Some(200) }).await;
    let messages = until(&mut ann, |frame| match frame {
        ServerMessage::History { messages, .. } => Some(messages.clone()),
        _ => None,
    })
    .await;
    let seqs: Vec<u64> = messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=30).collect::<Vec<u64>>(), "numbered without gaps");
    let mut stored: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
    stored.sort();
    all_ids.sort();
    assert_eq!(stored, all_ids, "every message once");
}

/// `GET /api/qr` draws this server's invite links, and nothing else: the link is rebuilt
/// from the invite token and this server's own origin, whatever else the text says.
#[tokio::test]
async fn the_qr_code_is_drawn_for_our_invite_links_only() {
    let server = Server::start_with(&["--qr-per-minute-per-address", "8"]);
    let (_ann, friends, _) = user(&server, ANN, "Ann", vec![]).await;
    let qr = |text: &str| {
        let url = format!("{}?text={}", server.url(kefu_protocol::api::QR_PATH), encode(text));
        let mut response = http().get(&url).call().expect("GET");
        let kind =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let cache =
            response.headers().get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        (response.status().as_u16(), kind, cache, response.body_mut().read_to_string().unwrap_or_default())
    };
    let link = format!("https://app.example/chat/?lang=en&invite={}", friends.invite);
    let (status, kind, cache, body) = qr(&link);
    assert_eq!((status, kind.as_str()), (200, "image/svg+xml"), "{body}");
    assert!(cache.contains("max-age"), "the same invite, the same picture: {cache}");
    assert!(
        body.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"")
            && body.contains("<path d=\"M4 4h1v1h-1z"),
        "{body}"
    );
    // Our own link's picture, whatever was around the invite: a foreign site, a script URL,
    // free text. (Before, each of these was drawn as given.)
    let own = server.url(&format!("/friends?invite={}", friends.invite));
    let (_, _, _, own_picture) = qr(&own);
    assert_eq!(body, own_picture, "the foreign link's picture is our own link's");
    for text in [
        format!("javascript:alert(document.cookie)//?invite={}", friends.invite),
        format!("Send 1 BTC to evil.example ?invite={}", friends.invite),
    ] {
        let (status, _, _, picture) = qr(&text);
        assert_eq!((status, picture == own_picture), (200, true), "{text:.60}");
    }

    let forged = format!("https://app.example/?invite={}x", friends.invite);
    let too_long = format!("{link}&pad={}", "x".repeat(kefu_protocol::api::QR_MAX_TEXT_BYTES));
    for text in ["https://evil.example/any text at all", forged.as_str(), too_long.as_str(), ""] {
        let (status, _, _, body) = qr(text);
        assert_eq!(status, 400, "{text:.60}: {body}");
        assert!(body.contains("invite links"), "says what it takes: {body}");
    }
    // Eight a minute from one address (set above; eight asked so far), then 429 with Retry-After.
    let url = format!("{}?text={}", server.url(kefu_protocol::api::QR_PATH), encode(&link));
    let refused = http().get(&url).call().expect("GET");
    assert_eq!(refused.status().as_u16(), 429);
    assert!(refused.headers().get("retry-after").is_some());
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A reload, or a tap from one user page to the other, reconnects within the presence grace:
/// a friend is told again that the person is online, never that they left; leaving for good
/// is told once the grace is over.
#[tokio::test]
async fn coming_back_within_the_grace_is_never_shown_as_leaving() {
    use kefu_server::hub::{PRESENCE_GRACE, SWEEP_EVERY};
    let server = Server::in_process(&[]);
    let (mut ann, _, _) = user(&server, ANN, "Ann", vec![]).await;
    let (mut bob, _, _) = user(&server, BOB, "Bob", vec![]).await;
    befriend(&mut ann, &mut bob).await;
    // Bob's page reloads on a slow phone: it is back half the grace later (several sweeps).
    let left = tokio::time::Instant::now();
    drop(bob);
    let mut presence = vec![];
    let mut told_until = async |ann: &mut Socket, deadline| {
        while let Ok(frame) = tokio::time::timeout_at(deadline, next_v1(ann)).await {
            if let ServerMessage::FriendPresence { uid, online } = frame {
                presence.push((uid, online));
            }
        }
    };
    told_until(&mut ann, left + PRESENCE_GRACE / 2).await;
    let (bob, _, _) = user(&server, BOB, "Bob", vec![]).await;
    // Everything Ann is told until well past the grace: never that Bob went offline.
    told_until(&mut ann, left + PRESENCE_GRACE + 4 * SWEEP_EVERY).await;
    assert!(presence.iter().all(|&(uid, online)| uid == BOB && online), "{presence:?}");
    drop(bob);
    let gone =
        until(&mut ann, |f| matches!(f, ServerMessage::FriendPresence { .. }).then(|| f.clone())).await;
    assert_eq!(gone, ServerMessage::FriendPresence { uid: BOB, online: false });
}

/// A crowd cannot bury someone in requests: past `MAX_PENDING_REQUESTS` waiting for one
/// user's answer, a new one is refused with `too_many`, and the user's list stays bounded.
#[tokio::test]
async fn pending_requests_to_one_user_are_capped() {
    use kefu_protocol::friends::MAX_PENDING_REQUESTS;
    let server = Server::in_process(&["--max-frames-per-second-per-address", "100000"]);
    let (ann, _, _) = user(&server, ANN, "Ann", vec![]).await;
    let mut refused = vec![];
    for n in 0..=MAX_PENDING_REQUESTS as i64 {
        let asker = UserId::lit(10_000 + n);
        let (mut socket, _, _) = user(&server, asker, "Asker", vec![]).await;
        send(&mut socket, &ClientMessage::Befriend { uid: ANN, note: format!("#{n}"), invite: None }).await;
        let answer = until(&mut socket, |frame| match frame {
            ServerMessage::Friends(list) => Some(Ok(list.outgoing.len())),
            ServerMessage::Error { code, message, .. } => Some(Err((*code, message.clone()))),
            _ => None,
        })
        .await;
        if let Err(error) = answer {
            refused.push((n, error));
        }
    }
    assert_eq!(refused.len(), 1, "{refused:?}");
    let (n, (code, message)) = &refused[0];
    assert_eq!((*n, *code), (MAX_PENDING_REQUESTS as i64, ErrorCode::TooMany), "{message}");
    assert!(message.contains("waiting"), "says why: {message}");
    // Ann's list (a new tab's) holds the first ones, and no more.
    drop(ann);
    let (_ann, list, _) = user(&server, ANN, "Ann", vec![]).await;
    assert_eq!(list.incoming.len(), MAX_PENDING_REQUESTS);
    assert!(list.incoming.iter().all(|r| r.note != format!("#{MAX_PENDING_REQUESTS}")));
}
