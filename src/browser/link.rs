//! The browser adapter of the connection: a gloo-net WebSocket, a ticking clock and the
//! page's visibility/online events, driving the pure state machine
//! (`kefu_core::connection`) and the protocol negotiation (`kefu_core::negotiation`).
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
use kefu_core::connection::{Action, Connection, Event, Status, Timing, V0_PROBE_DELAY_MS};
use kefu_core::negotiation::{Negotiation, Opened};
use kefu_core::reachability;
use kefu_protocol::friends::SUBPROTOCOL_V2;
use kefu_protocol::v1::{ClientMessage, ServerMessage, SUBPROTOCOL};
use kefu_protocol::{ChatMessage, ClientFrame, ServerFrame, HEARTBEAT_ACK};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use super::json::JsObject;
use super::random;
use super::storage::now_ms;

/// How often the state machine's clock ticks: the resolution of timeouts and retries.
const TICK_MS: u32 = 100;

/// What the page hears from the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkEvent {
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
pub(crate) struct Link {
    commands: mpsc::UnboundedSender<Command>,
}

impl Link {
    /// Starts a link to `url` (switched on) and reports to `on_event`.
    pub(crate) fn start(url: String, timing: Timing, on_event: impl Fn(LinkEvent) + 'static) -> Link {
        let (commands, receiver) = mpsc::unbounded();
        let link = Link { commands };
        listen_for_wake_ups(link.clone());
        leptos::task::spawn_local(Driver::new(url, timing, Rc::new(on_event)).run(receiver));
        link.enable();
        link
    }

    pub(crate) fn enable(&self) {
        self.command(Command::Enable);
    }

    pub(crate) fn disable(&self) {
        self.command(Command::Disable);
    }

    /// Sends the chat text of the page's message `id`. If the link is not open this reports
    /// [`LinkEvent::Lost`]; once the backend has processed it, [`LinkEvent::Processed`].
    pub(crate) fn send(&self, id: u64, text: String) {
        self.command(Command::Send(id, text));
    }

    /// Sends a v1 frame. Nothing is reported if the link is not open: v1 messages stay in the
    /// outbox until acknowledged.
    pub(crate) fn send_v1(&self, frame: ClientMessage) {
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

/// The link's task: owns the socket and the state machine, and carries out its actions.
struct Driver {
    url: String,
    emit: Rc<dyn Fn(LinkEvent)>,
    machine: Connection,
    negotiation: Negotiation,
    socket: Option<WebSocket>,
    attempt: Attempt,
    /// Whether the current socket has left the connecting state.
    settled: bool,
    /// Whether the backend selected v1 on the current socket.
    v1: bool,
    /// Messages sent since the last heartbeat, and for each heartbeat awaiting its answer the
    /// messages sent before it. Backends answer a connection's frames in order.
    unprobed: Vec<u64>,
    probes: VecDeque<Vec<u64>>,
    /// Attempts in a row that failed before opening (an outage): the next one asks over HTTP
    /// first (`kefu_core::reachability`).
    failed_attempts: u32,
    /// What the status indicator shows now: status and whether retrying by itself.
    shown: (Status, bool),
}

impl Driver {
    fn new(url: String, timing: Timing, emit: Rc<dyn Fn(LinkEvent)>) -> Driver {
        let machine = Connection::new(timing, (random() * u64::MAX as f64) as u64);
        let shown = (machine.status(), machine.is_retrying());
        Driver {
            url,
            emit,
            machine,
            negotiation: Negotiation::default(),
            socket: None,
            attempt: Attempt { offered_v1: true, opened: false },
            settled: false,
            v1: false,
            unprobed: vec![],
            probes: VecDeque::new(),
            failed_attempts: 0,
            shown,
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut ticker = IntervalStream::new(TICK_MS);
        (self.emit)(LinkEvent::Status { status: self.shown.0, retrying: self.shown.1 });
        loop {
            let actions = match self.next_input(&mut commands, &mut ticker).await {
                Input::Command(None) => break,
                Input::Command(Some(command)) => self.on_command(command).await,
                Input::Settled(open) => self.on_settled(open),
                Input::Socket(Some(Ok(message))) => self.on_message(message),
                Input::Socket(Some(Err(WebSocketError::ConnectionClose(close)))) => {
                    if !close.reason.is_empty() {
                        (self.emit)(LinkEvent::ClosedByServer { code: close.code, reason: close.reason });
                    }
                    self.on_closed()
                }
                Input::Socket(Some(Err(_)) | None) => self.on_closed(),
                Input::Tick => self.machine.handle(Event::Tick, now_ms()),
            };
            for action in actions {
                self.perform(action).await;
            }
            self.report_status();
        }
    }

    async fn next_input(
        &mut self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        ticker: &mut IntervalStream,
    ) -> Input {
        let (socket, settled) = (&mut self.socket, self.settled);
        poll_fn(|cx| {
            if let Poll::Ready(command) = commands.poll_next_unpin(cx) {
                return Poll::Ready(Input::Command(command));
            }
            if let Some(ws) = socket.as_mut() {
                // gloo-net's sink is ready once the socket is no longer connecting.
                if !settled && ws.poll_ready_unpin(cx).is_ready() {
                    return Poll::Ready(Input::Settled(matches!(ws.state(), State::Open)));
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
        .await
    }

    async fn on_command(&mut self, command: Command) -> Vec<Action> {
        let now = now_ms();
        match command {
            Command::Enable => self.machine.handle(Event::Enable, now),
            Command::Disable => self.machine.handle(Event::Disable, now),
            Command::Wake => self.machine.handle(Event::Wake, now),
            Command::Send(id, text) => {
                if self.send_text(ClientFrame::Chat(text).encode()).await {
                    self.unprobed.push(id);
                    self.machine.handle(Event::MessageSent, now)
                } else {
                    (self.emit)(LinkEvent::Lost);
                    vec![]
                }
            }
            Command::SendV1(frame) => {
                let is_message = matches!(frame, ClientMessage::Send { .. });
                if self.send_text(frame.to_fields::<JsObject>().to_json()).await && is_message {
                    self.machine.handle(Event::MessageSent, now)
                } else {
                    vec![]
                }
            }
        }
    }

    /// Sends on the open socket; false when there is none.
    async fn send_text(&mut self, text: String) -> bool {
        match (self.machine.status(), self.socket.as_mut()) {
            (Status::Online, Some(ws)) => ws.send(Message::Text(text)).await.is_ok(),
            _ => false,
        }
    }

    fn on_settled(&mut self, open: bool) -> Vec<Action> {
        self.settled = true;
        let now = now_ms();
        // v2 is v1 with friends: the same frames, more of them.
        let selected_v1 = self
            .socket
            .as_ref()
            .is_some_and(|ws| ws.protocol() == SUBPROTOCOL || ws.protocol() == SUBPROTOCOL_V2);
        match open.then(|| self.negotiation.opened(self.attempt.offered_v1, selected_v1)) {
            Some(Opened::Use { v1 }) => {
                self.attempt.opened = true;
                self.failed_attempts = 0;
                self.v1 = v1;
                self.machine.set_probe_delay(if v1 { 0 } else { V0_PROBE_DELAY_MS });
                (self.emit)(LinkEvent::Opened { v1 });
                self.machine.handle(Event::Opened, now)
            }
            Some(Opened::ProbeV1) => {
                // Up over v0 after a failed v1 offer: ask for v1 once more, at once.
                self.socket = None;
                self.machine.handle(Event::Closed, now);
                self.machine.handle(Event::Wake, now)
            }
            None => self.on_closed(),
        }
    }

    fn on_message(&mut self, message: Message) -> Vec<Action> {
        let actions = self.machine.handle(Event::FrameReceived, now_ms());
        let text = match message {
            Message::Text(text) => text,
            Message::Bytes(bytes) => format!("(binary frame of {} bytes ignored)", bytes.len()),
        };
        if text == HEARTBEAT_ACK {
            if let Some(ids) = self.probes.pop_front().filter(|ids| !ids.is_empty()) {
                (self.emit)(LinkEvent::Processed(ids));
            }
            return actions;
        }
        // Whatever is not a frame of the protocol spoken is a notice, never dropped.
        let object = JsObject::parse(&text);
        let event = match object {
            Some(object) if self.v1 => ServerMessage::from_fields(&object).map(LinkEvent::V1),
            Some(object) => ChatMessage::from_fields(&object).map(|m| LinkEvent::Frame(ServerFrame::Chat(m))),
            None => None,
        };
        (self.emit)(event.unwrap_or(LinkEvent::Frame(ServerFrame::Notice(text))));
        actions
    }

    fn on_closed(&mut self) -> Vec<Action> {
        self.drop_socket();
        self.machine.handle(Event::Closed, now_ms())
    }

    /// Drops the socket; one that never opened tells the negotiation its offer failed.
    fn drop_socket(&mut self) {
        if self.socket.take().is_some() && !self.attempt.opened {
            self.negotiation.failed(self.attempt.offered_v1);
            self.failed_attempts += 1;
        }
    }

    async fn perform(&mut self, action: Action) {
        match action {
            Action::Open => {
                // During an outage, a plain HTTP request first: a WebSocket only once the
                // backend answers (Chromium holds back each refused WebSocket attempt longer).
                if reachability::ask_first(self.failed_attempts) && !answers(&self.url).await {
                    self.machine.handle(Event::Closed, now_ms());
                    return;
                }
                self.settled = false;
                self.unprobed.clear();
                self.probes.clear();
                self.attempt = Attempt { offered_v1: self.negotiation.offer_v1(), opened: false };
                self.socket = if self.attempt.offered_v1 {
                    open_offering(&self.url, &[SUBPROTOCOL_V2, SUBPROTOCOL])
                } else {
                    WebSocket::open(&self.url).ok()
                };
                if self.socket.is_none() {
                    let reason = format!("cannot open a WebSocket to {}", self.url);
                    (self.emit)(LinkEvent::ClosedByServer { code: 0, reason });
                    self.machine.handle(Event::Closed, now_ms());
                }
            }
            Action::SendHeartbeat => {
                if let Some(ws) = self.socket.as_mut() {
                    // A dead socket reports no error here; the watchdog finds it.
                    let _ = ws.send(Message::Text(ClientFrame::Heartbeat.encode())).await;
                    self.probes.push_back(std::mem::take(&mut self.unprobed));
                }
            }
            Action::Close => self.drop_socket(),
        }
    }

    /// Tells the page when the status (or whether it retries by itself) changed.
    fn report_status(&mut self) {
        let now_shown = self.negotiation.shown(self.machine.status(), self.machine.is_retrying());
        if now_shown != self.shown {
            if self.shown.0 == Status::Online {
                (self.emit)(LinkEvent::Lost);
            }
            self.shown = now_shown;
            (self.emit)(LinkEvent::Status { status: now_shown.0, retrying: now_shown.1 });
        }
    }
}

/// A WebSocket offering `protocols` in order (gloo-net's own way needs a JSON library).
fn open_offering(url: &str, protocols: &[&str]) -> Option<WebSocket> {
    let offer: js_sys::Array = protocols.iter().map(|p| wasm_bindgen::JsValue::from_str(p)).collect();
    let socket = web_sys::WebSocket::new_with_str_sequence(url, &offer).ok()?;
    WebSocket::try_from(socket).ok()
}

/// Whether the backend of WebSocket `url` answers a plain HTTP request (any answer, within
/// [`reachability::PROBE_TIMEOUT_MS`]). Opaque (`no-cors`): only whether it answered matters.
async fn answers(url: &str) -> bool {
    let Some(probe) = reachability::probe_url(url) else { return true };
    let Some(window) = web_sys::window() else { return true };
    let init = web_sys::RequestInit::new();
    init.set_mode(web_sys::RequestMode::NoCors);
    init.set_cache(web_sys::RequestCache::NoStore);
    let fetch = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str_and_init(&probe, &init));
    let timeout = gloo_timers::future::TimeoutFuture::new(reachability::PROBE_TIMEOUT_MS);
    futures::pin_mut!(fetch);
    match futures::future::select(fetch, timeout).await {
        futures::future::Either::Left((answer, _)) => answer.is_ok(),
        futures::future::Either::Right(_) => false,
    }
}
