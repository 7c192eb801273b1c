//! The team inbox over real WebSockets, from raw clients: auto-assignment (spread, away
//! agents, capacity, the queue), take races, statuses (resolve, reopen by the user's message,
//! snooze until a time), private notes that never reach a user connection in any form, canned
//! replies, and the errors. The server runs in process on SQLite; `cluster.rs` runs the take
//! race across instances on PostgreSQL + Redis.

use std::collections::HashMap;

use kefu_protocol::ids::ConversationId;
use kefu_protocol::team::{EventKind, Status, TeamEvent};
use kefu_protocol::v1::{ClientMessage, ErrorCode, Position, ServerMessage};
use kefu_testkit::server::Server;
use kefu_testkit::team::{assert_no_team, cid, counts, user_writes, write, Console};
use kefu_testkit::ws::{self, next_text, send};

#[tokio::test]
async fn new_conversations_are_spread_over_available_agents_never_to_the_away_one() {
    let server = Server::in_process(&[]);
    let mei = server.add_agent("mei", None).await;
    let li = server.add_agent("li", None).await;
    // Wang has an account but no console connected: away.
    let _wang = server.add_agent("wang", None).await;
    let mut mei = Console::connect(&mei).await;
    let mut li = Console::connect(&li).await;
    let users: Vec<i64> = (101..=110).collect();
    let mut sockets = vec![];
    for &uid in &users {
        sockets.push(user_writes(&server, uid, "hello").await);
    }
    let all_assigned =
        |c: &Console, _: Option<&ServerMessage>| users.iter().all(|&u| c.assignee(cid(u)).is_some());
    mei.until("ten assignments", all_assigned).await;
    li.until("ten assignments", all_assigned).await;
    let spread = counts(&mei, &users);
    assert_eq!(spread.get(&Some("mei".into())), Some(&5), "{spread:?}");
    assert_eq!(spread.get(&Some("li".into())), Some(&5), "{spread:?}");
    assert_eq!(spread.get(&Some("wang".into())), None, "the away agent gets none: {spread:?}");
    assert_eq!(counts(&li, &users), spread, "both consoles agree");
    // Each assignment is in the conversation's timeline, by nobody (auto-assignment).
    let assigned: Vec<&TeamEvent> = mei.events.iter().filter(|e| e.kind == EventKind::Assigned).collect();
    assert_eq!(assigned.len(), 10);
    assert!(assigned.iter().all(|e| e.by.is_none() && e.to.is_some()));
}

#[tokio::test]
async fn at_capacity_conversations_wait_and_are_handed_out_oldest_first_when_one_is_resolved() {
    let server = Server::in_process(&[]);
    let mei = server.add_agent("mei", Some(3)).await;
    let li = server.add_agent("li", Some(3)).await;
    let mut mei = Console::connect(&mei).await;
    let mut li = Console::connect(&li).await;
    let users: Vec<i64> = (201..=210).collect();
    let mut sockets = vec![];
    for &uid in &users {
        sockets.push(user_writes(&server, uid, "hello").await);
    }
    mei.until("ten states", |c, _| users.iter().all(|&u| c.states.contains_key(&cid(u)))).await;
    mei.until("six assigned", |c, _| users.iter().filter(|&&u| c.assignee(cid(u)).is_some()).count() == 6)
        .await;
    let spread = counts(&mei, &users);
    assert_eq!((spread.get(&Some("mei".into())), spread.get(&Some("li".into()))), (Some(&3), Some(&3)));
    assert_eq!(spread.get(&None), Some(&4), "four wait unassigned: {spread:?}");
    // The first four users were handed out; the waiting ones are the last four, in order.
    let waiting: Vec<i64> = users.iter().copied().filter(|&u| mei.assignee(cid(u)).is_none()).collect();
    assert_eq!(waiting, vec![207, 208, 209, 210]);
    // Mei resolves one: the oldest waiting goes to her.
    let mine = *users.iter().find(|&&u| mei.assignee(cid(u)) == Some("mei")).expect("one of mei's");
    mei.send(ClientMessage::SetStatus { conversation: cid(mine), status: Status::Resolved, until: None })
        .await;
    mei.until("207 handed out", |c, _| c.assignee(cid(207)).is_some()).await;
    assert_eq!(mei.assignee(cid(207)), Some("mei"));
    assert_eq!(mei.status(cid(mine)), Some(Status::Resolved));
    assert!(mei.events.iter().any(|e| e.kind == EventKind::Resolved && e.by.as_deref() == Some("mei")));
    li.until("li sees it", |c, _| c.assignee(cid(207)) == Some("mei")).await;
    assert!(users[7..].iter().all(|&u| mei.assignee(cid(u)).is_none()), "the rest still wait");
    // A waiting one is handed out as soon as an agent with room signs in.
    let wang = server.add_agent("wang", Some(1)).await;
    let _wang = Console::connect(&wang).await;
    mei.until("208 to wang", |c, _| c.assignee(cid(208)) == Some("wang")).await;
}

#[tokio::test]
async fn two_agents_taking_one_conversation_at_once_have_one_winner_fifty_times() {
    // Fifty rounds from one address in a few seconds: past the per-address frame limit.
    let server = Server::in_process(&[
        "--max-frames-per-second",
        "1000",
        "--max-frames-per-second-per-address",
        "100000",
    ]);
    // Capacity 0: auto-assignment gives them nothing; taking is not limited by it.
    let mei = server.add_agent("mei", Some(0)).await;
    let li = server.add_agent("li", Some(0)).await;
    let mut mei = Console::connect(&mei).await;
    let mut li = Console::connect(&li).await;
    let mut sockets = vec![];
    let mut wins: HashMap<String, usize> = HashMap::new();
    for round in 0..50 {
        let uid = 300 + round;
        sockets.push(user_writes(&server, uid, "who takes me?").await);
        let conversation = cid(uid);
        mei.until("the new conversation", |c, _| c.states.contains_key(&conversation)).await;
        li.until("the new conversation", |c, _| c.states.contains_key(&conversation)).await;
        let take = ClientMessage::Take { conversation };
        tokio::join!(mei.send(take.clone()), li.send(take));
        let (mei_errors, li_errors) = (mei.errors.len(), li.errors.len());
        // Each console: its own answer (the state naming it, or already_taken), and agreement.
        let settled = move |errors: usize| {
            move |c: &Console, _: Option<&ServerMessage>| {
                c.assignee(conversation).is_some()
                    && (c.errors.len() > errors
                        || c.events
                            .iter()
                            .any(|e| e.conversation == conversation && e.kind == EventKind::Assigned))
            }
        };
        mei.until("mei's answer", settled(mei_errors)).await;
        li.until("li's answer", settled(li_errors)).await;
        let winner = mei.assignee(conversation).expect("taken").to_owned();
        li.until("li agrees", |c, _| c.assignee(conversation).is_some()).await;
        assert_eq!(li.assignee(conversation), Some(winner.as_str()), "round {round}: both consoles agree");
        let (loser, loser_errors) =
            if winner == "mei" { (&mut li, li_errors) } else { (&mut mei, mei_errors) };
        loser.until("the loser's refusal", |c, _| c.errors.len() > loser_errors).await;
        let (code, message) = loser.errors.last().expect("refused").clone();
        assert_eq!(code, ErrorCode::AlreadyTaken, "round {round}");
        assert!(message.contains(&winner), "the loser is told who: {message}");
        let taken = mei
            .events
            .iter()
            .filter(|e| e.conversation == conversation && e.kind == EventKind::Assigned)
            .count();
        assert_eq!(taken, 1, "round {round}: one take recorded");
        *wins.entry(winner).or_insert(0) += 1;
    }
    assert_eq!(wins.values().sum::<usize>(), 50);
}

#[tokio::test]
async fn a_resolved_conversation_reopens_to_its_agent_when_the_user_writes_and_a_snooze_ends_on_time() {
    let server = Server::in_process(&[]);
    let mei = server.add_agent("mei", None).await;
    let mut mei = Console::connect(&mei).await;
    let mut user = user_writes(&server, 401, "hello").await;
    let conversation = cid(401);
    mei.until("assigned", |c, _| c.assignee(conversation) == Some("mei")).await;
    mei.send(ClientMessage::SetStatus { conversation, status: Status::Resolved, until: None }).await;
    mei.until("resolved", |c, _| c.status(conversation) == Some(Status::Resolved)).await;
    write(&mut user, "again", "one more question").await;
    mei.until("reopened", |c, _| c.status(conversation) == Some(Status::Open)).await;
    assert_eq!(mei.assignee(conversation), Some("mei"), "back to the same agent");
    mei.until("the reopening event", |c, _| c.events.iter().any(|e| e.kind == EventKind::ReopenedByMessage))
        .await;

    // Snoozed until a time: it reopens then, by itself.
    let until = kefu_server::team::now_ms() + 1_500;
    mei.send(ClientMessage::SetStatus { conversation, status: Status::Snoozed, until: Some(until) }).await;
    mei.until("snoozed", |c, _| c.status(conversation) == Some(Status::Snoozed)).await;
    assert_eq!(mei.states[&conversation].until, Some(until));
    mei.until("woken", |c, _| c.status(conversation) == Some(Status::Open)).await;
    let woke = mei.events.iter().find(|e| e.kind == EventKind::ReopenedByTime).expect("the event");
    assert!(woke.at >= until, "not before its time: {} < {until}", woke.at);
    assert_eq!(mei.assignee(conversation), Some("mei"));
    // Snoozed until the user writes: it reopens with the user's message.
    mei.send(ClientMessage::SetStatus { conversation, status: Status::Snoozed, until: None }).await;
    mei.until("snoozed", |c, _| c.status(conversation) == Some(Status::Snoozed)).await;
    write(&mut user, "again2", "hello?").await;
    mei.until("reopened by the message", |c, _| c.status(conversation) == Some(Status::Open)).await;
    let by_message = mei.events.iter().filter(|e| e.kind == EventKind::ReopenedByMessage).count();
    assert_eq!(by_message, 2);
    // A snooze that ends in the past is refused.
    mei.send(ClientMessage::SetStatus { conversation, status: Status::Snoozed, until: Some(1) }).await;
    mei.until("refused", |c, _| c.errors.iter().any(|(code, _)| *code == ErrorCode::Malformed)).await;
    // The user was told none of it.
    ws::assert_nothing_pending(&mut user, |text| text.contains("\"agents\"")).await;
}

#[tokio::test]
async fn a_note_never_reaches_a_user_connection_live_replayed_paged_or_reconnected() {
    let server = Server::in_process(&[]);
    let mei = server.add_agent("mei", None).await;
    let li = server.add_agent("li", None).await;
    let mut mei = Console::connect(&mei).await;
    let mut li = Console::connect(&li).await;
    let mut user = user_writes(&server, 501, "my order is late").await;
    let mut friend_tab = ws::connect_v2(&server.ws_url("501")).await;
    assert_no_team(&ws::resume_raw(&mut friend_tab, vec![]).await);
    let conversation = cid(501);
    mei.until("the conversation", |c, _| c.states.contains_key(&conversation)).await;
    const SECRET: &str = "NOTE-SECRET: refund approved internally";
    mei.send(ClientMessage::Note { id: "n1".into(), conversation, text: SECRET.into() }).await;
    mei.until("noted", |_, f| matches!(f, Some(ServerMessage::Noted { id, .. }) if id == "n1")).await;
    li.until("li sees the note", |c, _| {
        c.events.iter().any(|e| e.kind == EventKind::Note && e.text == SECRET)
    })
    .await;
    let note = li.events.iter().find(|e| e.kind == EventKind::Note).expect("note").clone();
    assert_eq!((note.by.as_deref(), note.after), (Some("mei"), 1), "its author, after the user's message");
    // Sent again (a retry): stored once, answered again.
    mei.send(ClientMessage::Note { id: "n1".into(), conversation, text: SECRET.into() }).await;
    mei.until("noted again", |_, f| matches!(f, Some(ServerMessage::Noted { id, .. }) if id == "n1")).await;
    mei.send(ClientMessage::Events { conversation }).await;
    mei.until("the timeline", |_, f| matches!(f, Some(ServerMessage::TeamEvents { .. }))).await;
    let notes =
        |c: &Console| c.events.iter().filter(|e| e.kind == EventKind::Note && e.text == SECRET).count();
    // Once live, once in the timeline asked for: one stored.
    assert_eq!(notes(&mei), 2);
    // An agent types and writes too, so the user has something to receive.
    mei.send(ClientMessage::Typing { conversation: Some(conversation) }).await;
    mei.send(ClientMessage::Send { id: "r1".into(), conversation: Some(conversation), text: "on it".into() })
        .await;
    // The user's live connections: the reply arrives, never the note.
    let mut seen = vec![];
    loop {
        let text = next_text(&mut user).await;
        let done = text.contains("on it");
        seen.push(text);
        if done {
            break;
        }
    }
    ws::assert_nothing_pending(&mut user, |text| text.contains("\"agents\"") || text.contains("\"read\""))
        .await;
    ws::assert_nothing_pending(&mut friend_tab, |text| !text.contains("NOTE-SECRET")).await;
    // Reconnected from nothing: the replay; then a history page; then another tab's resume.
    let mut again = ws::connect_v1(&server.ws_url("501")).await;
    let replay = ws::resume_raw(&mut again, vec![Position { conversation, seq: 0 }]).await;
    send(&mut again, &ClientMessage::History { conversation, before: 0, limit: Some(200) }).await;
    let page = ws::next_v1_raw(&mut again).await;
    for frame in replay.iter().chain([&page]) {
        let text = frame.encode();
        assert!(!text.contains("NOTE-SECRET"), "a user frame carried the note: {text}");
        assert!(
            !text.contains("team_") && !text.contains("\"note\""),
            "a user frame carried the team: {text}"
        );
    }
    assert!(seen.iter().all(|t| !t.contains("NOTE-SECRET") && !t.contains("team_")), "{seen:?}");
    // A user cannot write one, or read the timeline, or take, or anything of the team.
    for frame in [
        ClientMessage::Note { id: "x".into(), conversation, text: "hi".into() },
        ClientMessage::Events { conversation },
        ClientMessage::Take { conversation },
        ClientMessage::SetStatus { conversation, status: Status::Resolved, until: None },
        ClientMessage::SaveCanned { id: None, shortcut: "x".into(), text: "y".into() },
    ] {
        send(&mut again, &frame).await;
        match ws::next_v1_raw(&mut again).await {
            ServerMessage::Error { code: ErrorCode::AgentsOnly, .. } => {}
            other => panic!("a user's team frame was not refused: {other:?}"),
        }
    }
}

#[tokio::test]
async fn canned_replies_are_shared_and_checked() {
    let server = Server::in_process(&[]);
    let mei = server.add_agent("mei", None).await;
    let li = server.add_agent("li", None).await;
    let mut mei = Console::connect(&mei).await;
    let mut li = Console::connect(&li).await;
    mei.send(ClientMessage::SaveCanned { id: None, shortcut: "hello".into(), text: "Hello {name}!".into() })
        .await;
    li.until("the new reply", |c, _| c.canned.iter().any(|r| r.shortcut == "hello")).await;
    let id = li.canned[0].id;
    li.send(ClientMessage::SaveCanned {
        id: Some(id),
        shortcut: "hi".into(),
        text: "Hi {name}, how can I help?".into(),
    })
    .await;
    mei.until("the edit", |c, _| {
        c.canned.iter().any(|r| r.shortcut == "hi" && r.text.starts_with("Hi {name}"))
    })
    .await;
    assert_eq!(mei.canned.len(), 1);
    for (shortcut, text) in [("Bad Shortcut", "x"), ("ok", "  "), ("hi", "duplicate")] {
        mei.send(ClientMessage::SaveCanned { id: None, shortcut: shortcut.into(), text: text.into() }).await;
        let before = mei.errors.len();
        mei.until("refused", |c, _| c.errors.len() > before).await;
        assert_eq!(mei.errors.last().map(|e| e.0), Some(ErrorCode::BadCanned), "{shortcut:?} {text:?}");
    }
    mei.send(ClientMessage::DeleteCanned { id }).await;
    li.until("deleted", |c, _| c.canned.is_empty()).await;
    // A new console gets the list in its replay.
    let wang = server.add_agent("wang", None).await;
    mei.send(ClientMessage::SaveCanned { id: None, shortcut: "bye".into(), text: "Bye!".into() }).await;
    mei.until("saved", |c, _| c.canned.len() == 1).await;
    let wang = Console::connect(&wang).await;
    assert_eq!(wang.canned.len(), 1);
}

#[tokio::test]
async fn handing_over_checks_the_agent_and_its_capacity_and_giving_back_goes_to_someone_else() {
    let server = Server::in_process(&[]);
    let mei = server.add_agent("mei", None).await;
    let li = server.add_agent("li", Some(1)).await;
    let mut mei = Console::connect(&mei).await;
    let _li = Console::connect(&li).await;
    let _a = user_writes(&server, 601, "a").await;
    let _b = user_writes(&server, 602, "b").await;
    mei.until("both assigned", |c, _| c.assignee(cid(601)).is_some() && c.assignee(cid(602)).is_some()).await;
    let (li_has, mei_has) =
        if mei.assignee(cid(601)) == Some("li") { (cid(601), cid(602)) } else { (cid(602), cid(601)) };
    assert_eq!(mei.assignee(mei_has), Some("mei"));
    mei.send(ClientMessage::Assign { conversation: mei_has, to: Some("nobody".into()) }).await;
    mei.until("no such agent", |c, _| c.errors.iter().any(|e| e.0 == ErrorCode::NoSuchAgent)).await;
    mei.send(ClientMessage::Assign { conversation: mei_has, to: Some("li".into()) }).await;
    mei.until("over capacity", |c, _| c.errors.iter().any(|e| e.0 == ErrorCode::OverCapacity)).await;
    // Li resolves hers (she has room again); mei gives hers back: it goes to li, not to mei.
    mei.send(ClientMessage::SetStatus { conversation: li_has, status: Status::Resolved, until: None }).await;
    mei.until("resolved", |c, _| c.status(li_has) == Some(Status::Resolved)).await;
    mei.send(ClientMessage::Assign { conversation: mei_has, to: None }).await;
    mei.until("given to li", |c, _| c.assignee(mei_has) == Some("li")).await;
    assert!(mei.events.iter().any(|e| e.kind == EventKind::Unassigned && e.by.as_deref() == Some("mei")));
    // A peer conversation or one that does not exist is not the team's.
    mei.send(ClientMessage::Take { conversation: ConversationId::lit(-5) }).await;
    mei.send(ClientMessage::Take { conversation: cid(99_999) }).await;
    mei.until("refused twice", |c, _| {
        c.errors.iter().filter(|e| e.0 == ErrorCode::UnknownConversation).count() == 2
    })
    .await;
}
