//! The id spaces over real sockets (`kefu_protocol::ids`): a user numbered like a peer
//! conversation, or past 2^53 - 1, is nobody; frames and app bodies naming ids outside their
//! ranges are refused; the agents never reach a peer conversation. (The rule itself is tested
//! over the whole id space in `server/src/privacy.rs`.)

use kefu_protocol::close;
use kefu_protocol::ids::{ConversationId, UserId};
use kefu_protocol::v1::{ClientMessage, ErrorCode, Position, ServerMessage};
use kefu_testkit::server::Server;
use kefu_testkit::ws::{self, assert_nothing_pending, next_v1, send, send_text, Socket};
use kefu_testkit::{app_friendship_signed, app_token, http, APP_SECRET};

const ANN: UserId = UserId::lit(101);
const BOB: UserId = UserId::lit(102);

async fn v2_user(server: &Server, uid: UserId) -> (Socket, Vec<ServerMessage>) {
    let token = app_token(uid.get(), Some(&format!("u{uid}")));
    let mut socket = ws::connect_v2(&format!("{}?token={token}", server.bare_ws_url(&uid.to_string()))).await;
    let replay = ws::resume(&mut socket, vec![]).await;
    (socket, replay)
}

async fn until<T>(socket: &mut Socket, wanted: impl Fn(&ServerMessage) -> Option<T>) -> T {
    loop {
        if let Some(found) = wanted(&next_v1(socket).await) {
            return found;
        }
    }
}

/// Ann and Bob, friends by the app's backend, with one message in their conversation.
async fn friends_who_talked(server: &Server) -> (Socket, Socket, ConversationId) {
    let (mut ann, _) = v2_user(server, ANN).await;
    let (mut bob, _) = v2_user(server, BOB).await;
    let body = app_friendship_signed(APP_SECRET, ANN.get(), BOB.get(), true);
    let response =
        http().post(&server.url(kefu_protocol::api::APP_FRIENDSHIP_PATH)).send(body).expect("POST");
    assert_eq!(response.status().as_u16(), 200);
    let conversation = until(&mut ann, |frame| match frame {
        ServerMessage::Friends(list) => list.friends.first().map(|f| f.conversation),
        _ => None,
    })
    .await;
    assert!(conversation.is_peer());
    let secret =
        ClientMessage::Send { id: "s1".into(), conversation: Some(conversation), text: "our secret".into() };
    send(&mut ann, &secret).await;
    until(&mut ann, |frame| matches!(frame, ServerMessage::Ack { .. }).then_some(())).await;
    until(&mut bob, |frame| matches!(frame, ServerMessage::Message(_)).then_some(())).await;
    (ann, bob, conversation)
}

#[tokio::test]
async fn an_endpoint_numbered_like_a_peer_conversation_or_past_the_range_is_nobody() {
    // The breach: with --trust-user-ids anyone could connect as -2 and resume "its own"
    // conversation -2, a private chat between two friends.
    let server = Server::in_process(&["--trust-user-ids"]);
    let (_ann, _bob, conversation) = friends_who_talked(&server).await;
    let max = (1i64 << 53) - 1;
    for endpoint in [conversation.get(), -3, -max, -max - 1, max + 1, i64::MIN] {
        let mut thief = ws::connect_v2(&server.bare_ws_url(&endpoint.to_string())).await;
        let resume = ClientMessage::Resume { after: vec![Position { conversation, seq: 0 }] };
        send(&mut thief, &resume).await;
        let (code, reason) = ws::close_frame(&mut thief).await.expect("a close frame, nothing else");
        assert_eq!(code, close::POLICY, "endpoint {endpoint}: {reason}");
        assert!(reason.contains("user id"), "{reason}");
    }
    // The largest user id is still someone.
    let mut last = ws::connect_v2(&server.bare_ws_url(&max.to_string())).await;
    let replay = ws::resume(&mut last, vec![]).await;
    assert!(replay.iter().all(|f| !matches!(f, ServerMessage::Message(_))), "{replay:?}");
}

#[tokio::test]
async fn frames_and_app_bodies_naming_ids_out_of_range_are_refused() {
    let server = Server::in_process(&[]);
    let (mut ann, mut bob, conversation) = friends_who_talked(&server).await;
    // A frame naming -1 or a number past the range is not a frame.
    for raw in [-1, -(1i64 << 53), 1i64 << 53] {
        for frame in [
            format!(r#"{{"type":"history","conversation":{raw}}}"#),
            format!(r#"{{"type":"befriend","uid":{raw}}}"#),
        ] {
            send_text(&mut ann, &frame).await;
            let code = until(&mut ann, |f| match f {
                ServerMessage::Error { code, .. } => Some(*code),
                _ => None,
            })
            .await;
            assert_eq!(code, ErrorCode::Malformed, "{frame}");
        }
    }
    // The app's backend cannot name a peer conversation's number as a user either.
    let body = app_friendship_signed(APP_SECRET, conversation.get(), ANN.get(), true);
    let response =
        http().post(&server.url(kefu_protocol::api::APP_FRIENDSHIP_PATH)).send(body).expect("POST");
    assert_eq!(response.status().as_u16(), 400);
    assert_nothing_pending(&mut bob, ws::nothing).await;

    // An agent naming the peer conversation gets nothing of it, in any frame.
    let mut agent = ws::connect_v1(&server.ws_url("-1")).await;
    let replay = ws::resume(&mut agent, vec![Position { conversation, seq: 0 }]).await;
    let leaked = |f: &ServerMessage| matches!(f, ServerMessage::Message(m) if m.conversation == conversation);
    assert!(!replay.iter().any(leaked), "{replay:?}");
    assert!(replay
        .iter()
        .any(|f| matches!(f, ServerMessage::Error { code: ErrorCode::UnknownConversation, .. })));
    send(&mut agent, &ClientMessage::History { conversation, before: 0, limit: None }).await;
    let answer = next_v1(&mut agent).await;
    assert!(
        matches!(answer, ServerMessage::Error { code: ErrorCode::UnknownConversation, .. }),
        "{answer:?}"
    );
}
