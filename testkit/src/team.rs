//! The team inbox from the agents' side, for tests: [`Console`], a raw client that keeps
//! what it is told of the team, and users that write.

use std::collections::HashMap;
use std::time::Duration;

use kefu_protocol::ids::ConversationId;
use kefu_protocol::team::{AgentLoad, Canned, Status, TeamEvent, TeamState};
use kefu_protocol::v1::{ClientMessage, ErrorCode, ServerMessage};

use crate::server::Server;
use crate::ws::{self, next_text, send, Socket};

/// How long a console waits for what it expects before the test fails.
const PATIENCE: Duration = Duration::from_secs(4); // below ws::WAIT, so the failure says what

/// An agent's console as a raw client: what it has been told of the team.
pub struct Console {
    pub socket: Socket,
    pub states: HashMap<ConversationId, TeamState>,
    pub events: Vec<TeamEvent>,
    pub loads: Vec<AgentLoad>,
    pub canned: Vec<Canned>,
    pub errors: Vec<(ErrorCode, String)>,
    /// Every frame's text, as received.
    pub texts: Vec<String>,
}

impl Console {
    pub async fn connect(url: &str) -> Console {
        let mut socket = ws::connect_v1(url).await;
        send(&mut socket, &ClientMessage::Resume { after: vec![] }).await;
        let mut console = Console {
            socket,
            states: HashMap::new(),
            events: vec![],
            loads: vec![],
            canned: vec![],
            errors: vec![],
            texts: vec![],
        };
        console.until("ready", |_, frame| matches!(frame, Some(ServerMessage::Ready))).await;
        console
    }

    fn apply(&mut self, frame: &ServerMessage) {
        match frame {
            ServerMessage::TeamStates { states } => {
                self.states.extend(states.iter().map(|s| (s.conversation, s.clone())))
            }
            ServerMessage::TeamState(state) => {
                self.states.insert(state.conversation, state.clone());
            }
            ServerMessage::TeamEvent(event) => self.events.push(event.clone()),
            ServerMessage::TeamEvents { events, .. } => self.events.extend(events.iter().cloned()),
            ServerMessage::TeamAgents { agents } => self.loads = agents.clone(),
            ServerMessage::Canned { replies } => self.canned = replies.clone(),
            ServerMessage::Error { code, message, .. } => self.errors.push((*code, message.clone())),
            _ => {}
        }
    }

    /// Reads frames until `done` holds (it sees the console and the frame just applied;
    /// checked first with none), failing the test after [`PATIENCE`].
    pub async fn until(&mut self, what: &str, done: impl Fn(&Console, Option<&ServerMessage>) -> bool) {
        if done(self, None) {
            return;
        }
        let wait = async {
            loop {
                let text = next_text(&mut self.socket).await;
                let frame = ServerMessage::decode(&text).ok();
                self.texts.push(text);
                if let Some(frame) = &frame {
                    self.apply(frame);
                }
                if done(self, frame.as_ref()) {
                    return;
                }
            }
        };
        if tokio::time::timeout(PATIENCE, wait).await.is_err() {
            panic!(
                "waited {PATIENCE:?} for {what}; errors: {:?}; last frames: {:?}",
                self.errors,
                &self.texts[self.texts.len().saturating_sub(8)..]
            );
        }
    }

    pub fn assignee(&self, conversation: ConversationId) -> Option<&str> {
        self.states.get(&conversation).and_then(|s| s.assignee.as_deref())
    }

    pub fn status(&self, conversation: ConversationId) -> Option<Status> {
        self.states.get(&conversation).map(|s| s.status)
    }

    pub async fn send(&mut self, frame: ClientMessage) {
        send(&mut self.socket, &frame).await;
    }
}

/// User `uid` connects (v1), resumes and writes `text`; its socket, after the ack.
pub async fn user_writes(server: &Server, uid: i64, text: &str) -> Socket {
    user_writes_at(&server.ws_url(&uid.to_string()), uid, text).await
}

/// [`user_writes`] at `url` (with its token).
pub async fn user_writes_at(url: &str, uid: i64, text: &str) -> Socket {
    let mut socket = ws::connect_v1(url).await;
    assert_no_team(&ws::resume_raw(&mut socket, vec![]).await);
    write(&mut socket, &format!("u{uid}-{}", text.len()), text).await;
    socket
}

pub async fn write(socket: &mut Socket, id: &str, text: &str) {
    send(socket, &ClientMessage::Send { id: id.into(), conversation: None, text: text.into() }).await;
    loop {
        let frame = ws::next_v1_raw(socket).await;
        assert_no_team(std::slice::from_ref(&frame));
        if let ServerMessage::Ack { id: acked, .. } = frame {
            assert_eq!(acked, id);
            return;
        }
    }
}

/// A user connection's frames: never the team's.
pub fn assert_no_team(frames: &[ServerMessage]) {
    for frame in frames {
        assert!(!frame.is_team(), "a user received a team frame: {frame:?}");
    }
}

pub fn counts(console: &Console, users: &[i64]) -> HashMap<Option<String>, usize> {
    let mut counts = HashMap::new();
    for &uid in users {
        *counts.entry(console.assignee(cid(uid)).map(str::to_owned)).or_insert(0) += 1;
    }
    counts
}

/// Support conversation `uid`.
pub fn cid(uid: i64) -> ConversationId {
    ConversationId::lit(uid)
}
