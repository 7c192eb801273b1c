//! Three instances of the reference server on one PostgreSQL database and one Redis (both
//! throwaway, real), behind HAProxy running `deploy/haproxy-cluster.cfg`: users and agents
//! spread over the instances see what they would see on one; a Redis restart and a lost
//! publish lose nothing; a killed instance's people go offline elsewhere; the sign-in
//! throttle, a sign-out and a removed agent hold on every instance; a draining instance's
//! clients come back through the balancer on another; and a fault run (five kill -9, a Redis
//! restart, a PostgreSQL restart while everyone writes) loses, repeats and reorders nothing.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kefu_protocol::v1::{ClientMessage, ErrorCode, Message, ServerMessage};
use kefu_protocol::{AGENT_UID, CLOSE_UNAUTHORIZED};
use kefu_testkit::balancer::Balancer;
use kefu_testkit::redis::Redis;
use kefu_testkit::server::{release_binary, Server};
use kefu_testkit::ws::{self, next_v1, send, Socket};
use kefu_testkit::{app_friendship_signed, app_token, eventually, http, postgres, APP_SECRET};

/// Three instances on a fresh database and `redis`.
fn three_instances(name: &str, redis: &Redis) -> Vec<Server> {
    three_instances_on(name, postgres::fresh_database(name), redis)
}

fn three_instances_on(name: &str, database: String, redis: &Redis) -> Vec<Server> {
    three_instances_with(name, database, redis, &[])
}

fn three_instances_with(name: &str, database: String, redis: &Redis, extra: &[&str]) -> Vec<Server> {
    let database = PathBuf::from(database);
    let url = redis.url();
    let mut args = vec!["--redis", url.as_str(), "--trusted-proxy", "127.0.0.1"];
    args.extend_from_slice(extra);
    (1..=3)
        .map(|n| {
            // Kept for a failure's post-mortem: the three logs side by side.
            let log = std::env::temp_dir().join(format!("kefu-{name}-{n}.log"));
            Server::process_on_logging(&release_binary(), database.clone(), &args, &log)
        })
        .collect()
}

/// The next frame `wanted` picks, skipping others; ws::WAIT bounds each read.
async fn until<T>(socket: &mut Socket, wanted: impl Fn(&ServerMessage) -> Option<T>) -> T {
    loop {
        if let Some(found) = wanted(&next_v1(socket).await) {
            return found;
        }
    }
}

async fn message(socket: &mut Socket) -> Message {
    until(socket, |frame| match frame {
        ServerMessage::Message(m) => Some(m.clone()),
        _ => None,
    })
    .await
}

/// `(conversation, seq, text)` of the next `n` messages.
async fn messages(socket: &mut Socket, n: usize) -> Vec<(i64, u64, String)> {
    let mut got = vec![];
    for _ in 0..n {
        let m = message(socket).await;
        got.push((m.conversation.get(), m.seq, m.text));
    }
    got
}

async fn say(socket: &mut Socket, id: &str, conversation: Option<i64>, text: &str) -> u64 {
    let conversation = conversation.map(kefu_protocol::v1::ConversationId::lit);
    send(socket, &ClientMessage::Send { id: id.into(), conversation, text: text.into() }).await;
    until(socket, |frame| match frame {
        ServerMessage::Ack { id: acked, seq, .. } if acked == id => Some(*seq),
        _ => None,
    })
    .await
}

async fn user(url: &str, uid: i64) -> (Socket, Vec<ServerMessage>) {
    let mut socket =
        ws::connect_v1(&format!("{url}?token={}", app_token(uid, Some(&format!("u{uid}"))))).await;
    let replay = ws::resume(&mut socket, vec![]).await;
    (socket, replay)
}

async fn agent(server: &Server) -> (Socket, Vec<ServerMessage>) {
    let mut socket = ws::connect_v1(&server.ws_url(&AGENT_UID.to_string())).await;
    let replay = ws::resume(&mut socket, vec![]).await;
    (socket, replay)
}

/// Waits for a presence frame about `uid` (or finds it in `replay`).
async fn presence(socket: &mut Socket, replay: &[ServerMessage], uid: i64, online: bool) {
    let wanted = |frame: &ServerMessage| {
        matches!(frame, ServerMessage::Presence { conversation, online: o, .. } if conversation.get() == uid && *o == online)
            .then_some(())
    };
    if online && replay.iter().any(|frame| wanted(frame).is_some()) {
        return;
    }
    until(socket, wanted).await;
}

/// Waits until `uids`, and no one else, are shown online, in whichever order their instances
/// tell it.
async fn all_online(socket: &mut Socket, uids: &[i64]) {
    let mut online = std::collections::BTreeSet::new();
    while online.len() < uids.len() {
        if let ServerMessage::Presence { conversation, online: true, .. } = next_v1(socket).await {
            online.insert(conversation.get());
        }
    }
    assert_eq!(online, uids.iter().copied().collect());
}

/// Waits until the user is told whether agents are there (or finds it in `replay`).
async fn agents_told(socket: &mut Socket, replay: &[ServerMessage], online: bool) {
    let wanted = |frame: &ServerMessage| {
        matches!(frame, ServerMessage::Agents { online: o } if *o == online).then_some(())
    };
    if replay.iter().rev().find(|f| matches!(f, ServerMessage::Agents { .. })).and_then(wanted).is_some() {
        return;
    }
    until(socket, wanted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_agents_on_three_instances_see_what_one_instance_shows() {
    let redis = Redis::start();
    let servers = three_instances("cluster_same", &redis);
    let balancer = Balancer::start_cluster([servers[0].port, servers[1].port, servers[2].port]);

    let (mut first_agent, _) = agent(&servers[0]).await;
    let (mut second_agent, _) = agent(&servers[2]).await;
    let (mut seven, replay) = user(&servers[1].bare_ws_url("7"), 7).await;
    agents_told(&mut seven, &replay, true).await;
    let (mut eight, replay) = user(&balancer.ws_url("8"), 8).await;
    agents_told(&mut eight, &replay, true).await;
    // 7 and 8 come online at both agents, in whichever order their instances tell it.
    for agent in [&mut first_agent, &mut second_agent] {
        all_online(agent, &[7, 8]).await;
    }

    // Messages both ways, each delivered once to every connection that should see it.
    assert_eq!(say(&mut seven, "s1", None, "hello from 7").await, 1);
    for (n, agent) in [&mut first_agent, &mut second_agent].into_iter().enumerate() {
        assert_eq!(messages(agent, 1).await, vec![(7, 1, "hello from 7".to_owned())], "agent {n}");
    }
    assert_eq!(say(&mut second_agent, "a1", Some(7), "hello 7").await, 2);
    assert_eq!(messages(&mut seven, 1).await, vec![(7, 2, "hello 7".to_owned())]);
    assert_eq!(messages(&mut first_agent, 1).await, vec![(7, 2, "hello 7".to_owned())]);
    assert_eq!(say(&mut eight, "s1", None, "hello from 8").await, 1);
    assert_eq!(messages(&mut first_agent, 1).await, vec![(8, 1, "hello from 8".to_owned())]);

    // Typing and reads cross instances; the typist is not told of its own typing.
    send(&mut seven, &ClientMessage::Typing { conversation: None }).await;
    until(&mut first_agent, |f| {
        (*f == ServerMessage::Typing {
            conversation: kefu_protocol::v1::ConversationId::lit(7),
            agent: false,
        })
        .then_some(())
    })
    .await;
    send(
        &mut first_agent,
        &ClientMessage::Read { conversation: Some(kefu_protocol::v1::ConversationId::lit(7)), seq: 2 },
    )
    .await;
    let read =
        ServerMessage::Read { conversation: kefu_protocol::v1::ConversationId::lit(7), agent: true, seq: 2 };
    until(&mut seven, |f| (*f == read).then_some(())).await;
    until(&mut second_agent, |f| (*f == read).then_some(())).await;

    // A user leaving one instance goes offline at agents on the others.
    ws::close(&mut eight).await;
    presence(&mut first_agent, &[], 8, false).await;
    presence(&mut second_agent, &[], 8, false).await;

    // Friends on two instances, made friends through the third's API: lists, presence and a
    // peer message.
    let v2 = |server: &Server, uid: i64| {
        format!("{}?token={}", server.bare_ws_url(&uid.to_string()), app_token(uid, Some(&format!("u{uid}"))))
    };
    let mut twenty = ws::connect_v2(&v2(&servers[0], 20)).await;
    ws::resume(&mut twenty, vec![]).await;
    let mut twenty_one = ws::connect_v2(&v2(&servers[1], 21)).await;
    ws::resume(&mut twenty_one, vec![]).await;
    let body = app_friendship_signed(APP_SECRET, 20, 21, true);
    let status =
        http().post(&servers[2].url(kefu_protocol::api::APP_FRIENDSHIP_PATH)).send(body).expect("POST");
    assert_eq!(status.status().as_u16(), 200);
    let conversation = until(&mut twenty_one, |f| match f {
        ServerMessage::Friends(list) => {
            list.friends.iter().find(|f| f.person.uid.get() == 20).map(|f| (f.conversation.get(), f.online))
        }
        _ => None,
    })
    .await;
    if !conversation.1 {
        // 20's instance had not told 21's yet that 20 is online: it follows.
        until(&mut twenty_one, |f| {
            (*f == ServerMessage::FriendPresence { uid: kefu_protocol::ids::UserId::lit(20), online: true })
                .then_some(())
        })
        .await;
    }
    until(&mut twenty, |f| match f {
        ServerMessage::Friends(list) => list.friends.iter().any(|f| f.person.uid.get() == 21).then_some(()),
        _ => None,
    })
    .await;
    assert_eq!(say(&mut twenty, "p1", Some(conversation.0), "hi 21").await, 1);
    assert_eq!(messages(&mut twenty_one, 1).await, vec![(conversation.0, 1, "hi 21".to_owned())]);
    ws::close(&mut twenty).await;
    until(&mut twenty_one, |f| {
        (*f == ServerMessage::FriendPresence { uid: kefu_protocol::ids::UserId::lit(20), online: false })
            .then_some(())
    })
    .await;

    // Agents away, wherever they were.
    ws::close(&mut first_agent).await;
    ws::close(&mut second_agent).await;
    agents_told(&mut seven, &[], false).await;
    ws::assert_nothing_pending(&mut seven, |text| !text.contains("\"message\"")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_and_a_killed_instance_lose_nothing() {
    let mut redis = Redis::start();
    let mut servers = three_instances("cluster_faults", &redis);
    let balancer = Balancer::start_cluster([servers[0].port, servers[1].port, servers[2].port]);
    let (mut console, _) = agent(&servers[1]).await;
    let (mut seven, _) = user(&servers[0].bare_ws_url("7"), 7).await;
    presence(&mut console, &[], 7, true).await;

    // Redis gone: messages are still stored and acknowledged; /readyz says what is wrong.
    redis.kill();
    for n in 1..=3 {
        assert_eq!(say(&mut seven, &format!("m{n}"), None, &format!("while redis is down {n}")).await, n);
    }
    let readyz = servers[0].url("/readyz");
    eventually("readyz tells redis is down", Duration::from_secs(10), || {
        let readyz = readyz.clone();
        async move {
            let body = tokio::task::spawn_blocking(move || {
                http().get(&readyz).call().ok().and_then(|mut r| r.body_mut().read_to_string().ok())
            })
            .await
            .ok()
            .flatten()?;
            body.contains("degraded: redis unavailable").then_some(())
        }
    })
    .await;
    // A second tab on another instance, which has not heard of those three, resumes after
    // the third and writes: it is given its own message once, and nothing it already has.
    // (Before: that instance clamped the resume to what it knew, 0, and sent 1-4 again.)
    let (mut tab, replay) = {
        let url = format!("{}?token={}", servers[1].bare_ws_url("7"), app_token(7, Some("u7")));
        let mut socket = ws::connect_v1(&url).await;
        let position =
            kefu_protocol::v1::Position { conversation: kefu_protocol::v1::ConversationId::lit(7), seq: 3 };
        let replay = ws::resume(&mut socket, vec![position]).await;
        (socket, replay)
    };
    let again = |f: &ServerMessage| match f {
        ServerMessage::Message(m) => m.seq <= 3,
        ServerMessage::History { messages, .. } => messages.iter().any(|m| m.seq <= 3),
        _ => false,
    };
    assert!(!replay.iter().any(again), "{replay:?}");
    assert_eq!(say(&mut tab, "t4", None, "from the second tab").await, 4);
    ws::assert_nothing_pending(&mut tab, |text| match ServerMessage::decode(text) {
        Ok(frame) => !again(&frame),
        Err(_) => true,
    })
    .await;

    // Back: what was stored meanwhile reaches the other instance's agent, in order, once;
    // and the agent, connected all along, is never shown leaving to the user while the
    // instances write their presence again (a TTL and two polls are watched).
    redis.start_again();
    let watched = Instant::now() + Duration::from_millis(3_000 + 2 * 500 + 500);
    while let Ok(frame) = tokio::time::timeout_at(watched.into(), next_v1(&mut seven)).await {
        assert_ne!(frame, ServerMessage::Agents { online: false }, "presence flapped after Redis came back");
    }
    let mut expected: Vec<(i64, u64, String)> =
        (1..=3).map(|n| (7, n, format!("while redis is down {n}"))).collect();
    expected.push((7, 4, "from the second tab".to_owned()));
    let mut got = vec![];
    while got.len() < 4 {
        let m = message(&mut console).await;
        got.push((m.conversation.get(), m.seq, m.text));
    }
    assert_eq!(got, expected);
    assert_eq!(say(&mut seven, "m5", None, "live again").await, 5);
    assert_eq!(messages(&mut console, 1).await, vec![(7, 5, "live again".to_owned())]);

    // An instance killed: its user goes offline at the agent on another instance.
    let (mut nine, _) = user(&servers[2].bare_ws_url("9"), 9).await;
    presence(&mut console, &[], 9, true).await;
    ws::assert_nothing_pending(&mut nine, |_| true).await;
    servers[2].signal(libc::SIGKILL);
    let killed = Instant::now();
    // Pages coming back through the balancer at once (it still counts the dead instance in,
    // with the fewest connections): each lands on a live one, none is refused.
    for n in 0..5 {
        let started = Instant::now();
        let uid = 90 + n;
        let (mut back, _) = user(&balancer.ws_url(&uid.to_string()), uid).await;
        println!(
            "back online through the balancer {n}: {} ms after the kill, connect + resume {} ms",
            killed.elapsed().as_millis(),
            started.elapsed().as_millis()
        );
        ws::close(&mut back).await;
    }
    presence(&mut console, &[], 9, false).await;
    println!("a killed instance's user shown offline elsewhere after {} ms", killed.elapsed().as_millis());
    servers[2].wait();
    ws::assert_nothing_pending(&mut console, |text| !text.contains("\"message\"")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_instance_sends_its_clients_through_the_balancer_to_another() {
    let redis = Redis::start();
    let mut servers = three_instances("cluster_drain", &redis);
    let balancer = Balancer::start_cluster([servers[0].port, servers[1].port, servers[2].port]);
    let (mut console, _) = agent(&servers[0]).await;
    // Three users through the balancer, which gives each instance one (fewest connections).
    let mut users = vec![];
    for uid in 31..=33 {
        let (mut socket, _) = user(&balancer.ws_url(&uid.to_string()), uid).await;
        assert_eq!(say(&mut socket, "hello", None, "hello").await, 1);
        users.push(socket);
    }
    // All three online at the agent.
    all_online(&mut console, &[31, 32, 33]).await;
    servers[1].signal(libc::SIGTERM);
    // The one on the draining instance is told it is going away.
    let (close, drained, _) = {
        let closes = users.iter_mut().map(|socket| Box::pin(ws::close_frame(socket)));
        futures::future::select_all(closes).await
    };
    assert_eq!(close.map(|(code, _)| code), Some(1001), "going away");
    let uid = 31 + drained as i64;
    presence(&mut console, &[], uid, false).await;
    let seq = say(&mut console, "while-moving", Some(uid), "written while you moved").await;
    // Back through the balancer: on another instance, with what was written meanwhile.
    let (mut back, replay) = user(&balancer.ws_url(&uid.to_string()), uid).await;
    let replayed: Vec<(u64, String)> = replay
        .iter()
        .flat_map(|frame| match frame {
            ServerMessage::History { messages, .. } => messages.clone(),
            ServerMessage::Message(m) => vec![m.clone()],
            _ => vec![],
        })
        .map(|m| (m.seq, m.text))
        .collect();
    assert_eq!(replayed, vec![(1, "hello".to_owned()), (seq, "written while you moved".to_owned())]);
    presence(&mut console, &[], uid, true).await;
    assert_eq!(say(&mut back, "after-moving", None, "here again").await, seq + 1);
    assert_eq!(messages(&mut console, 1).await, vec![(uid, seq + 1, "here again".to_owned())]);
    assert!(servers[1].wait().success(), "the drained instance exits cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_throttle_a_sign_out_and_a_removed_agent_hold_on_every_instance() {
    let redis = Redis::start();
    let servers = three_instances("cluster_limits", &redis);
    // Five failures a minute for one name from one address, wherever they are tried.
    for n in 0..5 {
        let (status, body) = servers[n % 3].sign_in("nobody", "guess");
        assert_eq!(status, 401, "failure {n}: {body}");
    }
    for server in &servers {
        let (status, _) = server.sign_in("nobody", "guess");
        assert_eq!(status, 429, "throttled at every instance");
    }

    // Signing out on one instance ends the session on every instance: its open consoles
    // close, and it is refused from then on.
    let (status, body) = servers[2].sign_in(kefu_testkit::AGENT, kefu_testkit::AGENT_PASSWORD);
    assert_eq!(status, 200, "{body}");
    let signed_out = body["token"].as_str().expect("token").to_owned();
    let mut open_consoles = vec![];
    for server in &servers {
        let mut console = ws::connect_v1(&format!("{}?token={signed_out}", server.bare_ws_url("-1"))).await;
        ws::resume(&mut console, vec![]).await;
        open_consoles.push(console);
    }
    assert_eq!(servers[0].sign_out(Some(&signed_out)), 204);
    let ended = "this session has ended (signed out, or a new password): sign in again";
    for console in &mut open_consoles {
        assert_eq!(ws::close_frame(console).await, Some((CLOSE_UNAUTHORIZED, ended.to_owned())));
    }
    for server in &servers {
        let url = format!("{}?token={signed_out}", server.bare_ws_url("-1"));
        let mut refused = ws::connect_v1(&url).await;
        assert_eq!(ws::close_frame(&mut refused).await, Some((CLOSE_UNAUTHORIZED, ended.to_owned())));
    }

    // A session valid on every instance ends on every instance when its account is removed.
    let token = servers[0].agent_token();
    for server in &servers {
        let url = format!("{}?token={token}", server.bare_ws_url("-1"));
        let mut console = ws::connect_v1(&url).await;
        ws::resume(&mut console, vec![]).await;
    }
    let (ok, output) = servers[1].command(&["agent", "remove", kefu_testkit::AGENT]);
    assert!(ok, "{output}");
    for server in &servers {
        let url = format!("{}?token={token}", server.bare_ws_url("-1"));
        let mut refused = ws::connect_v1(&url).await;
        let close = ws::close_frame(&mut refused).await;
        let expected = (CLOSE_UNAUTHORIZED, "this agent account no longer exists".to_owned());
        assert_eq!(close, Some(expected));
    }
}

/// A client that keeps going whatever happens to the instance it is on, as the web app
/// does: on a broken connection it connects to the next instance, resumes from the last
/// `seq` it has of each conversation and sends again what was not acknowledged (same ids).
/// It records every message it is given, to check that nothing is missing, repeated or out
/// of order.
struct Steadfast {
    name: String,
    urls: Vec<String>,
    next_url: usize,
    socket: Option<Socket>,
    ready: bool,
    /// Per conversation, the last `seq` received.
    seen: std::collections::BTreeMap<i64, u64>,
    /// Every message received, in order: (conversation, seq).
    got: Vec<(i64, u64)>,
    /// Sends not yet acknowledged, in order.
    pending: Vec<ClientMessage>,
    /// Users shown online (agents).
    online: std::collections::BTreeSet<i64>,
    faults: Vec<String>,
    sent: u32,
    /// When to send the unacknowledged again after a refusal.
    retry_at: Option<tokio::time::Instant>,
}

impl Steadfast {
    fn new(name: &str, urls: Vec<String>, first: usize) -> Steadfast {
        Steadfast {
            name: name.into(),
            urls,
            next_url: first,
            socket: None,
            ready: false,
            seen: Default::default(),
            got: vec![],
            pending: vec![],
            online: Default::default(),
            faults: vec![],
            sent: 0,
            retry_at: None,
        }
    }

    async fn connect(&mut self) {
        if self.socket.is_some() {
            return;
        }
        let url = self.urls[self.next_url % self.urls.len()].clone();
        self.next_url += 1;
        let Ok(Ok((mut socket, _))) =
            tokio::time::timeout(Duration::from_secs(2), ws::open(&url, Some("kefu.v1"), None)).await
        else {
            return;
        };
        let after = self
            .seen
            .iter()
            .map(|(c, s)| kefu_protocol::v1::Position {
                conversation: kefu_protocol::v1::ConversationId::lit(*c),
                seq: *s,
            })
            .collect();
        let resume = ClientMessage::Resume { after }.encode();
        if futures_util::SinkExt::send(&mut socket, tokio_tungstenite::tungstenite::Message::text(resume))
            .await
            .is_ok()
        {
            self.socket = Some(socket);
            self.ready = false;
            self.online.clear();
        }
    }

    fn broken(&mut self) {
        self.socket = None;
        self.ready = false;
    }

    async fn write(&mut self, frame: &ClientMessage) {
        let Some(socket) = self.socket.as_mut() else { return };
        let text = tokio_tungstenite::tungstenite::Message::text(frame.encode());
        if futures_util::SinkExt::send(socket, text).await.is_err() {
            self.broken();
        }
    }

    async fn send(&mut self, conversation: Option<i64>, text: &str) {
        self.sent += 1;
        let conversation = conversation.map(kefu_protocol::v1::ConversationId::lit);
        let frame = ClientMessage::Send {
            id: format!("{}-{}", self.name, self.sent),
            conversation,
            text: text.into(),
        };
        self.pending.push(frame.clone());
        if self.ready {
            self.write(&frame).await;
        }
    }

    fn received(&mut self, conversation: i64, seq: u64) {
        match self.seen.get(&conversation) {
            Some(&last) if seq <= last => {
                self.faults.push(format!("{}: {conversation}/{seq} again", self.name))
            }
            Some(&last) if seq != last + 1 => {
                self.faults.push(format!("{}: {conversation}/{seq} after {last}", self.name))
            }
            None if seq != 1 => self.faults.push(format!("{}: {conversation} began at {seq}", self.name)),
            _ => {}
        }
        self.seen.insert(conversation, seq.max(self.seen.get(&conversation).copied().unwrap_or(0)));
        self.got.push((conversation, seq));
    }

    /// Reads what arrives for up to `wait` (reconnecting if the connection is gone).
    async fn pump(&mut self, wait: Duration) {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message as Ws;
        self.connect().await;
        if self.ready && self.retry_at.is_some_and(|at| at <= tokio::time::Instant::now()) {
            self.retry_at = None;
            for frame in self.pending.clone() {
                self.write(&frame).await;
            }
        }
        let deadline = tokio::time::Instant::now() + wait;
        while let Some(socket) = self.socket.as_mut() {
            let next = match tokio::time::timeout_at(deadline, socket.next()).await {
                Err(_) => return,
                Ok(next) => next,
            };
            let text = match next {
                Some(Ok(Ws::Text(text))) => text.as_str().to_owned(),
                Some(Ok(Ws::Ping(_) | Ws::Pong(_))) => continue,
                _ => {
                    self.broken();
                    return;
                }
            };
            match ServerMessage::decode(&text) {
                Ok(ServerMessage::Message(m)) => self.received(m.conversation.get(), m.seq),
                Ok(ServerMessage::History { conversation, messages, .. }) => {
                    let conversation = conversation.get();
                    let known = self.seen.get(&conversation).copied();
                    // A page is for a conversation the client did not name: one it has (it
                    // named it in its resume) must not come back at or below that point.
                    if let Some(known) = known.filter(|known| messages.iter().any(|m| m.seq <= *known)) {
                        self.faults
                            .push(format!("{}: a page of {conversation} at or below {known}", self.name));
                    }
                    let known = known.unwrap_or(0);
                    for seq in messages.iter().map(|m| m.seq).filter(|seq| *seq > known) {
                        self.received(conversation, seq);
                    }
                }
                Ok(ServerMessage::Ack { id, .. }) => {
                    self.pending.retain(|p| !matches!(p, ClientMessage::Send { id: sent, .. } if *sent == id))
                }
                Ok(ServerMessage::Ready) => {
                    self.ready = true;
                    for frame in self.pending.clone() {
                        self.write(&frame).await;
                    }
                }
                Ok(ServerMessage::Presence { conversation, online, .. }) => {
                    if online {
                        self.online.insert(conversation.get());
                    } else {
                        self.online.remove(&conversation.get());
                    }
                }
                // Refused for now (the database restarting): sent again a moment later, as the
                // web app's outbox does.
                Ok(ServerMessage::Error {
                    code: ErrorCode::Unavailable | ErrorCode::RateLimited,
                    id: Some(_),
                    ..
                }) => {
                    self.retry_at.get_or_insert(tokio::time::Instant::now() + Duration::from_millis(200));
                }
                Ok(_) => {}
                Err(err) => self.faults.push(format!("{}: not a frame {text}: {err}", self.name)),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_run_on_the_cluster_loses_nothing() {
    let mut redis = Redis::start();
    let mut database = postgres::Own::start("fault-run");
    let mut servers = three_instances_on("cluster_fault_run", database.url(), &redis);
    let token = servers[0].agent_token();
    let users: Vec<i64> = (31..=36).collect();
    let mut clients: Vec<Steadfast> = (0..3)
        .map(|n| {
            let urls = servers.iter().map(|s| format!("{}?token={token}", s.bare_ws_url("-1"))).collect();
            Steadfast::new(&format!("agent{n}"), urls, n)
        })
        .collect();
    for (n, uid) in users.iter().enumerate() {
        let urls = servers
            .iter()
            .map(|s| format!("{}?token={}", s.bare_ws_url(&uid.to_string()), app_token(*uid, None)))
            .collect();
        clients.push(Steadfast::new(&format!("user{uid}"), urls, n));
    }
    let pump_all = |clients: &mut Vec<Steadfast>, wait: Duration| {
        let clients = std::mem::take(clients);
        async move {
            let mut pumped = vec![];
            for mut client in clients {
                client.pump(wait).await;
                pumped.push(client);
            }
            pumped
        }
    };
    clients = pump_all(&mut clients, Duration::from_millis(300)).await;

    for round in 0..5 {
        // Everyone writes; then instance `round % 3` dies mid-stream and comes back.
        for client in clients.iter_mut() {
            if client.name.starts_with("agent") {
                let user = users[(round * 3 + client.next_url) % users.len()];
                client.send(Some(user), &format!("{} round {round}", client.name)).await;
            } else {
                client.send(None, &format!("{} round {round} a", client.name)).await;
            }
        }
        clients = pump_all(&mut clients, Duration::from_millis(50)).await;
        let victim = round % 3;
        servers[victim].signal(libc::SIGKILL);
        for client in clients.iter_mut().filter(|c| c.name.starts_with("user")) {
            client.send(None, &format!("{} round {round} b", client.name)).await;
        }
        match round {
            2 => redis.start_again(),
            // Sends meanwhile are refused (`unavailable`); the clients send them again.
            3 => database.restart(),
            _ => {}
        }
        servers[victim].restart();
        let deadline = Instant::now() + Duration::from_secs(30);
        while clients.iter().any(|c| !c.pending.is_empty()) {
            assert!(Instant::now() < deadline, "round {round}: sends still unacknowledged");
            clients = pump_all(&mut clients, Duration::from_millis(20)).await;
        }
    }

    // Settled: every connection has every message of its conversations once, in order, and
    // the agents see exactly the six users online.
    let last: std::collections::BTreeMap<i64, u64> = {
        let user_clients = clients.iter().filter(|c| c.name.starts_with("user"));
        user_clients
            .map(|c| (c.name[4..].parse().expect("uid"), c.seen.values().copied().max().unwrap_or(0)))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let settled = clients.iter().all(|c| {
            let mine: Vec<i64> = if c.name.starts_with("agent") {
                users.clone()
            } else {
                vec![c.name[4..].parse().expect("uid")]
            };
            let complete = mine.iter().all(|u| c.seen.get(u) == last.get(u));
            let presence = !c.name.starts_with("agent") || c.online == users.iter().copied().collect();
            complete && presence
        });
        if settled {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not settled: {:?}",
            clients.iter().map(|c| (&c.name, &c.seen, &c.online)).collect::<Vec<_>>()
        );
        clients = pump_all(&mut clients, Duration::from_millis(20)).await;
    }
    let faults: Vec<&String> = clients.iter().flat_map(|c| &c.faults).collect();
    assert!(faults.is_empty(), "{faults:?}");
    let total: u64 = last.values().sum();
    println!("fault run: {total} messages in {} conversations, each received once in order by its user and three agents", last.len());
    assert!(last.values().all(|&n| n >= 10), "every user's ten messages at least: {last:?}");
}

/// User `uid`'s address through the balancer, with its token.
fn through(balancer: &Balancer, uid: i64) -> String {
    format!("{}?token={}", balancer.ws_url(&uid.to_string()), app_token(uid, None))
}

/// The team inbox with its agents on different instances: auto-assignment spreads over
/// both, a take race has one winner fifty times with both consoles agreeing, and a status
/// change made at one instance reaches the other.
#[tokio::test]
async fn the_team_inbox_behaves_the_same_with_agents_on_different_instances() {
    use kefu_protocol::team::Status;
    use kefu_testkit::team::{cid, counts, user_writes_at, Console};
    let redis = Redis::start();
    // Fifty take rounds from one address in a few seconds: past the default frame limits.
    let limits = ["--max-frames-per-second", "1000", "--max-frames-per-second-per-address", "100000"];
    let servers =
        three_instances_with("cluster_team", postgres::fresh_database("cluster_team"), &redis, &limits);
    let balancer = Balancer::start_cluster([servers[0].port, servers[1].port, servers[2].port]);
    let mut mei = Console::connect(&servers[0].add_agent("mei", None).await).await;
    let mut li = Console::connect(&servers[2].add_agent("li", None).await).await;
    // Users through the balancer, on whichever instance.
    let users: Vec<i64> = (11..=20).collect();
    let mut sockets = vec![];
    for &uid in &users {
        sockets.push(user_writes_at(&through(&balancer, uid), uid, "hello").await);
    }
    let all = |c: &Console, _: Option<&ServerMessage>| users.iter().all(|&u| c.assignee(cid(u)).is_some());
    mei.until("ten assigned", all).await;
    li.until("ten assigned", all).await;
    let spread = counts(&mei, &users);
    assert_eq!(spread.get(&Some("mei".into())), Some(&5), "{spread:?}");
    assert_eq!(spread.get(&Some("li".into())), Some(&5), "{spread:?}");
    assert_eq!(counts(&li, &users), spread);

    // A status change at one instance is seen at the other.
    let mine = *users.iter().find(|&&u| mei.assignee(cid(u)) == Some("mei")).expect("mei has some");
    mei.send(ClientMessage::SetStatus { conversation: cid(mine), status: Status::Resolved, until: None })
        .await;
    li.until("resolved elsewhere", |c, _| c.status(cid(mine)) == Some(Status::Resolved)).await;

    // Take races: both are full (capacity 0), so new conversations wait for a take.
    for name in ["mei", "li"] {
        let (ok, out) = servers[1].command(&["agent", "set", name, "--capacity", "0"]);
        assert!(ok, "{out}");
    }
    for round in 0..50 {
        let uid = 100 + round;
        sockets.push(user_writes_at(&through(&balancer, uid), uid, "who?").await);
        let conversation = cid(uid);
        mei.until("the new one", |c, _| c.states.contains_key(&conversation)).await;
        li.until("the new one", |c, _| c.states.contains_key(&conversation)).await;
        let take = ClientMessage::Take { conversation };
        let (mei_errors, li_errors) = (mei.errors.len(), li.errors.len());
        tokio::join!(mei.send(take.clone()), li.send(take));
        mei.until("taken", |c, _| c.assignee(conversation).is_some()).await;
        li.until("taken", |c, _| c.assignee(conversation).is_some()).await;
        let winner = mei.assignee(conversation).expect("taken").to_owned();
        assert_eq!(li.assignee(conversation), Some(winner.as_str()), "round {round}: both agree");
        let loser = if winner == "mei" { &mut li } else { &mut mei };
        let before = if winner == "mei" { li_errors } else { mei_errors };
        loser.until("the refusal", |c, _| c.errors.len() > before).await;
        let (code, message) = loser.errors.last().cloned().expect("refused");
        assert_eq!(code, ErrorCode::AlreadyTaken, "round {round}: {message}");
        assert!(message.contains(&winner), "{message}");
    }
}
