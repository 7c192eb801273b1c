//! The browser adapter of the connection: a gloo-net WebSocket, a ticking clock and the
//! page's visibility/online events, driving the pure [`Connection`] state machine.
//!
//! It owns the socket; the page talks to it through a [`Link`] handle and hears back through
//! one callback of [`LinkEvent`]s.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, State, WebSocketError};
use gloo_timers::future::IntervalStream;
use kefu_protocol::v1::{ClientMessage, ServerMessage, SUBPROTOCOL};
use kefu_protocol::{ClientFrame, ServerFrame};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::connection::{Action, Connection, Event, Status, Timing};
use crate::negotiation::{Negotiation, Opened};

/// How often the state machine's clock ticks: the resolution of timeouts and retries.
const TICK_MS: u32 = 100;

/// What the page hears from the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The status changed; `retrying` tells whether it is retrying by itself.
    Status { status: Status, retrying: bool },
    /// A frame arrived.
    Frame(ServerFrame),
    /// The link was lost (or a send found no open link): unconfirmed messages may be lost.
    Lost,
    /// v0: the backend has processed these messages (a heartbeat sent after them was
    /// answered): any of them not echoed by now was refused.
    Processed(Vec<u64>),
    /// The socket opened; `v1` if the backend selected the `kefu.v1` subprotocol.
    Opened { v1: bool },
    /// A v1 frame arrived.
    V1(ServerMessage),
    /// The server closed the connection and said why.
    ClosedByServer { code: u16, reason: String },
}

enum Command {
    Enable,
    Disable,
    Send(u64, String),
    SendV1(ClientMessage),
    Wake,
}

/// Handle to a running link. Cheap to clone; the link stops when every handle is dropped.
#[derive(Clone)]
pub struct Link {
    commands: mpsc::UnboundedSender<Command>,
}

impl Link {
    /// Starts a link to `url` (switched on) and reports to `on_event`.
    pub fn start(url: String, timing: Timing, on_event: impl Fn(LinkEvent) + 'static) -> Link {
        let (commands, receiver) = mpsc::unbounded();
        let link = Link { commands };
        listen_for_wake_ups(link.clone());
        leptos::task::spawn_local(drive(url, timing, receiver, Rc::new(on_event)));
        link.enable();
        link
    }

    pub fn enable(&self) {
        self.command(Command::Enable);
    }

    pub fn disable(&self) {
        self.command(Command::Disable);
    }

    /// Sends the chat text of the page's message `id`. If the link is not open this reports
    /// [`LinkEvent::Lost`]; once the backend has processed it, [`LinkEvent::Processed`].
    pub fn send(&self, id: u64, text: String) {
        self.command(Command::Send(id, text));
    }

    /// Sends a v1 frame. Nothing is reported if the link is not open: v1 messages stay in the
    /// outbox until acknowledged.
    pub fn send_v1(&self, frame: ClientMessage) {
        self.command(Command::SendV1(frame));
    }

    fn wake(&self) {
        self.command(Command::Wake);
    }

    fn command(&self, command: Command) {
        // Fails only once the driver has stopped, and then there is nothing to tell.
        let _ = self.commands.unbounded_send(command);
    }
}

/// Retry at once when the tab becomes visible again or the browser comes back online.
fn listen_for_wake_ups(link: Link) {
    let Some(window) = web_sys::window() else { return };
    let on_online = {
        let link = link.clone();
        Closure::<dyn Fn()>::new(move || link.wake())
    };
    let _ = window.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
    on_online.forget();
    if let Some(document) = window.document() {
        let doc = document.clone();
        let on_visible = Closure::<dyn Fn()>::new(move || {
            if doc.visibility_state() == web_sys::VisibilityState::Visible {
                link.wake();
            }
        });
        let _ = document
            .add_event_listener_with_callback("visibilitychange", on_visible.as_ref().unchecked_ref());
        on_visible.forget();
    }
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

enum Input {
    Command(Option<Command>),
    /// The socket left the connecting state; `true` if it is open.
    Settled(bool),
    Socket(Option<Result<Message, WebSocketError>>),
    Tick,
}

/// The connection attempt under way: what it offered, and whether it ever opened.
#[derive(Clone, Copy)]
struct Attempt {
    offered_v1: bool,
    opened: bool,
}

/// Drops the socket; one that never opened tells the negotiation its offer failed.
fn gone(socket: &mut Option<WebSocket>, attempt: &Attempt, negotiation: &mut Negotiation) {
    if socket.take().is_some() && !attempt.opened {
        negotiation.failed(attempt.offered_v1);
    }
}

async fn drive(
    url: String,
    timing: Timing,
    mut commands: mpsc::UnboundedReceiver<Command>,
    emit: Rc<dyn Fn(LinkEvent)>,
) {
    let seed = (js_sys::Math::random() * u64::MAX as f64) as u64;
    let mut machine = Connection::new(timing, seed);
    let mut socket: Option<WebSocket> = None;
    let mut settled = false;
    let mut ticker = IntervalStream::new(TICK_MS);
    // Messages sent since the last heartbeat, and for each heartbeat awaiting its answer the
    // messages sent before it. Backends answer a connection's frames in order.
    let mut unprobed: Vec<u64> = vec![];
    let mut probes: VecDeque<Vec<u64>> = VecDeque::new();
    let mut v1 = false;
    let mut negotiation = Negotiation::default();
    let mut attempt = Attempt { offered_v1: true, opened: false };
    let mut shown = (machine.status(), machine.is_retrying());
    emit(LinkEvent::Status { status: shown.0, retrying: shown.1 });

    loop {
        let input = poll_fn(|cx| {
            if let Poll::Ready(command) = commands.poll_next_unpin(cx) {
                return Poll::Ready(Input::Command(command));
            }
            if let Some(ws) = socket.as_mut() {
                if !settled {
                    // gloo-net's sink is ready once the socket is no longer connecting.
                    if ws.poll_ready_unpin(cx).is_ready() {
                        return Poll::Ready(Input::Settled(matches!(ws.state(), State::Open)));
                    }
                }
                if let Poll::Ready(message) = ws.poll_next_unpin(cx) {
                    return Poll::Ready(Input::Socket(message));
                }
            }
            if ticker.poll_next_unpin(cx).is_ready() {
                return Poll::Ready(Input::Tick);
            }
            Poll::Pending
        })
        .await;

        let actions = match input {
            Input::Command(None) => break,
            Input::Command(Some(Command::Enable)) => machine.handle(Event::Enable, now()),
            Input::Command(Some(Command::Disable)) => machine.handle(Event::Disable, now()),
            Input::Command(Some(Command::Wake)) => machine.handle(Event::Wake, now()),
            Input::Command(Some(Command::Send(id, text))) => {
                let sent = match (machine.status(), socket.as_mut()) {
                    (Status::Online, Some(ws)) => {
                        ws.send(Message::Text(ClientFrame::Chat(text).encode())).await.is_ok()
                    }
                    _ => false,
                };
                if sent {
                    unprobed.push(id);
                    machine.handle(Event::MessageSent, now())
                } else {
                    emit(LinkEvent::Lost);
                    vec![]
                }
            }
            Input::Command(Some(Command::SendV1(frame))) => {
                let is_message = matches!(frame, ClientMessage::Send { .. });
                let sent = match (machine.status(), socket.as_mut()) {
                    (Status::Online, Some(ws)) => ws.send(Message::Text(frame.encode())).await.is_ok(),
                    _ => false,
                };
                if sent && is_message {
                    machine.handle(Event::MessageSent, now())
                } else {
                    vec![]
                }
            }
            Input::Settled(open) => {
                settled = true;
                let selected_v1 = socket.as_ref().is_some_and(|ws| ws.protocol() == SUBPROTOCOL);
                let verdict = open.then(|| negotiation.opened(attempt.offered_v1, selected_v1));
                match verdict {
                    Some(Opened::Use { v1: speaks_v1 }) => {
                        attempt.opened = true;
                        v1 = speaks_v1;
                        emit(LinkEvent::Opened { v1 });
                        machine.handle(Event::Opened, now())
                    }
                    Some(Opened::ProbeV1) => {
                        // Up over v0 after a failed v1 offer: ask for v1 once more, at once.
                        socket = None;
                        machine.handle(Event::Closed, now());
                        machine.handle(Event::Wake, now())
                    }
                    None => {
                        gone(&mut socket, &attempt, &mut negotiation);
                        machine.handle(Event::Closed, now())
                    }
                }
            }
            Input::Socket(Some(Ok(message))) => {
                let actions = machine.handle(Event::FrameReceived, now());
                let text = match message {
                    Message::Text(text) => text,
                    Message::Bytes(bytes) => format!("(binary frame of {} bytes ignored)", bytes.len()),
                };
                match ServerFrame::decode(&text) {
                    ServerFrame::HeartbeatAck => {
                        if let Some(ids) = probes.pop_front().filter(|ids| !ids.is_empty()) {
                            emit(LinkEvent::Processed(ids));
                        }
                    }
                    _ if v1 => match ServerMessage::decode(&text) {
                        Ok(frame) => emit(LinkEvent::V1(frame)),
                        Err(_) => emit(LinkEvent::Frame(ServerFrame::Notice(text))),
                    },
                    frame => emit(LinkEvent::Frame(frame)),
                }
                actions
            }
            Input::Socket(Some(Err(WebSocketError::ConnectionClose(close)))) => {
                gone(&mut socket, &attempt, &mut negotiation);
                if !close.reason.is_empty() {
                    emit(LinkEvent::ClosedByServer { code: close.code, reason: close.reason });
                }
                machine.handle(Event::Closed, now())
            }
            Input::Socket(Some(Err(_)) | None) => {
                gone(&mut socket, &attempt, &mut negotiation);
                machine.handle(Event::Closed, now())
            }
            Input::Tick => machine.handle(Event::Tick, now()),
        };

        for action in actions {
            match action {
                Action::Open => {
                    settled = false;
                    unprobed.clear();
                    probes.clear();
                    attempt = Attempt { offered_v1: negotiation.offer_v1(), opened: false };
                    socket = if attempt.offered_v1 {
                        WebSocket::open_with_protocol(&url, SUBPROTOCOL).ok()
                    } else {
                        WebSocket::open(&url).ok()
                    };
                    if socket.is_none() {
                        let reason = format!("cannot open a WebSocket to {url}");
                        emit(LinkEvent::ClosedByServer { code: 0, reason });
                        machine.handle(Event::Closed, now());
                    }
                }
                Action::SendHeartbeat => {
                    if let Some(ws) = socket.as_mut() {
                        // A dead socket reports no error here; the watchdog finds it.
                        let _ = ws.send(Message::Text(ClientFrame::Heartbeat.encode())).await;
                        probes.push_back(std::mem::take(&mut unprobed));
                    }
                }
                Action::Close => gone(&mut socket, &attempt, &mut negotiation),
            }
        }

        let now_shown = (machine.status(), machine.is_retrying());
        if now_shown != shown {
            if shown.0 == Status::Online {
                emit(LinkEvent::Lost);
            }
            shown = now_shown;
            emit(LinkEvent::Status { status: shown.0, retrying: shown.1 });
        }
    }
}
