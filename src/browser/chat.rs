//! Browser glue for a page's conversation(s): a [`Link`], the page model in a signal, and the
//! courier with its outbox kept in browser storage. Both pages use it; the decisions are
//! all in the pure `kefu_core::courier`.
//!
//! In the console, the model is changed as each frame arrives but the page is told once per
//! batch: what arrived before the page next had a moment (a replay sends thousands of frames
//! at once) is drawn once, not once per frame.

use kefu_core::connection::{Status, Timing};
use kefu_core::courier::{Courier, Effect, Model, Protocol};
use kefu_core::i18n::Texts;
use kefu_core::outbox::{new_message_id, Outbox};
use kefu_protocol::v1::{ClientMessage, ConversationId, Seq, ServerMessage};
use kefu_protocol::ServerFrame;
use leptos::prelude::*;

use super::json::JsObject;
use super::link::{Link, LinkEvent};
use super::random;
use super::storage::{self, local_time, now_ms, Key};

/// A page's chat state. Copy: every field is a reactive handle.
pub(crate) struct Chat<M: Send + Sync + 'static> {
    pub(crate) model: RwSignal<M>,
    /// Status and whether the link is retrying by itself.
    pub(crate) link_state: RwSignal<(Status, bool)>,
    /// Own messages waiting for the server.
    pub(crate) queued: RwSignal<usize>,
    /// The time (ms), ticking twice a second: what "typing" indicators expire against.
    pub(crate) clock: RwSignal<u64>,
    /// Live messages from the other side so far, and the conversation of the latest: what
    /// sound and desktop alerts follow.
    pub(crate) alerts: RwSignal<(u64, Option<ConversationId>)>,
    /// Why the server refused this page's identity; the link stops retrying then.
    pub(crate) refused: RwSignal<Option<String>>,
    /// The latest close the server gave a reason for: shown on the status, not in the chat,
    /// where repeated drops would pile up as lines.
    pub(crate) last_close: RwSignal<Option<String>>,
    protocol: RwSignal<Protocol>,
    courier: StoredValue<Courier>,
    link: StoredValue<Option<Link>>,
    outbox_key: StoredValue<Key>,
    /// The page is to be told that the model changed, as the next task (the console).
    #[cfg(feature = "console")]
    notice_due: StoredValue<bool>,
    texts: &'static Texts,
}

impl<M: Send + Sync + 'static> Clone for Chat<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: Send + Sync + 'static> Copy for Chat<M> {}

impl<M: Model + Send + Sync + 'static> Chat<M> {
    /// Restores the outbox kept under `outbox_key`, shows it in `model`, and connects.
    pub(crate) fn start(
        url: String,
        timing: Timing,
        outbox_key: Key,
        mut model: M,
        texts: &'static Texts,
    ) -> Chat<M> {
        let stored = storage::get(&outbox_key);
        let outbox = match stored.as_deref().map(|json| Outbox::from_stored(JsObject::parse_list(json))) {
            None => Outbox::default(),
            Some(Ok(outbox)) => outbox,
            Some(Err(err)) => {
                model.notice(&format!("{}: {err}", texts.outbox_unreadable), local_time());
                Outbox::default()
            }
        };
        let courier = Courier::new(outbox, &mut model);
        let chat = Chat {
            model: RwSignal::new(model),
            link_state: RwSignal::new((Status::Connecting, false)),
            queued: RwSignal::new(courier.queued()),
            clock: RwSignal::new(now_ms()),
            alerts: RwSignal::new((0, None)),
            refused: RwSignal::new(None),
            last_close: RwSignal::new(None),
            protocol: RwSignal::new(Protocol::Unknown),
            courier: StoredValue::new(courier),
            link: StoredValue::new(None),
            outbox_key: StoredValue::new(outbox_key),
            #[cfg(feature = "console")]
            notice_due: StoredValue::new(false),
            texts,
        };
        let link = Link::start(url, timing, move |event| chat.on_event(event));
        chat.link.set_value(Some(link));
        // Lives as long as the page.
        gloo_timers::callback::Interval::new(500, move || {
            let now = now_ms();
            chat.clock.set(now);
            let effects = chat.courier.try_update_value(|courier| courier.tick(now));
            chat.run(effects.unwrap_or_default());
        })
        .forget();
        chat
    }

    pub(crate) fn link(&self) -> Option<Link> {
        self.link.get_value()
    }

    fn on_event(self, event: LinkEvent) {
        match event {
            LinkEvent::Status { status, retrying } => self.link_state.set((status, retrying)),
            LinkEvent::Opened { v1 } => self.apply(|model, courier| courier.opened(v1, model)),
            LinkEvent::V1(ServerMessage::Typing { conversation, agent }) => {
                self.model.update(|model| Courier::typing_seen(model, conversation, agent, now_ms()))
            }
            LinkEvent::V1(ServerMessage::MemberTyping { conversation, uid }) => {
                self.model.update(|model| Courier::member_typing_seen(model, conversation, uid, now_ms()))
            }
            LinkEvent::V1(frame) => self.apply(|model, courier| courier.on_v1(model, frame, local_time())),
            LinkEvent::Frame(ServerFrame::Chat(message)) => {
                self.apply(|model, courier| courier.on_v0_chat(model, &message))
            }
            LinkEvent::Frame(ServerFrame::Notice(text)) => {
                self.model.update(|m| m.notice(&text, local_time()))
            }
            LinkEvent::Frame(ServerFrame::HeartbeatAck) => {}
            LinkEvent::Lost => self.apply(|model, courier| courier.lost(model, local_time())),
            LinkEvent::Processed(entries) => self.apply(|model, courier| courier.processed(model, &entries)),
            LinkEvent::ClosedByServer { code, reason } => {
                let text = format!("{} {} ({code}): {reason}", local_time(), self.texts.closed_by_server);
                self.last_close.set(Some(text.clone()));
                if code == kefu_protocol::CLOSE_UNAUTHORIZED {
                    self.model.update(|m| m.notice(&text, local_time()));
                    // Retrying with the same identity would be refused again.
                    if let Some(link) = self.link() {
                        link.disable();
                    }
                    self.refused.set(Some(reason));
                }
            }
        }
    }

    fn apply(self, step: impl FnOnce(&mut M, &mut Courier) -> Vec<Effect>) {
        #[cfg(not(feature = "console"))]
        let effects = self
            .model
            .try_update(|model| self.courier.try_update_value(|courier| step(model, courier)))
            .flatten()
            .unwrap_or_default();
        // The console's replay brings thousands of frames (20 messages of each of 10,000
        // conversations): the page is told once per batch, as the next task. A hidden tab's
        // timers are held back, but a hidden tab is not drawn either; alerts go at once (`run`).
        #[cfg(feature = "console")]
        let effects = {
            let effects = self
                .model
                .try_update_untracked(|model| self.courier.try_update_value(|courier| step(model, courier)))
                .flatten()
                .unwrap_or_default();
            if self.notice_due.try_update_value(|due| std::mem::replace(due, true)) == Some(false) {
                leptos::task::spawn_local(async move {
                    gloo_timers::future::TimeoutFuture::new(0).await;
                    self.notice_due.set_value(false);
                    self.model.notify();
                });
            }
            effects
        };
        self.run(effects);
    }

    fn run(self, effects: Vec<Effect>) {
        let link = self.link.get_value();
        for effect in effects {
            match (effect, link.as_ref()) {
                (Effect::SendV0 { entry, text }, Some(link)) => link.send(entry, text),
                (Effect::SendV1(frame), Some(link)) => link.send_v1(frame),
                (Effect::Save, _) => self.save(),
                (Effect::MayHaveMissed { since }, _) => {
                    let text = self.texts.may_have_missed(&since, &local_time());
                    self.model.update(|m| m.notice(&text, local_time()));
                }
                (Effect::Alert { conversation }, _) => self.alerts.update(|(count, last)| {
                    *count += 1;
                    *last = Some(conversation);
                }),
                // Before the link exists nothing can be sent; the outbox keeps it.
                (_, None) => {}
            }
        }
        self.queued.set(self.courier.with_value(Courier::queued));
        let protocol = self.courier.with_value(|c| c.protocol);
        if self.protocol.get_untracked() != protocol {
            self.protocol.set(protocol);
        }
    }

    fn save(self) {
        let saved = self.outbox_key.with_value(|key| {
            // Other tabs of the same visitor share this key: keep what they stored.
            let stored = storage::get(key).and_then(|json| JsObject::parse_list(&json));
            let items = self.courier.with_value(|c| c.outbox.merged(stored));
            storage::set(key, &JsObject::list_to_json(items.iter().map(|p| p.to_fields()).collect()))
        });
        if !saved {
            self.model.update(|m| m.notice(self.texts.outbox_not_saved, local_time()));
        }
    }

    /// The person sends `text` (into `conversation`, for agents). The error is for the composer.
    pub(crate) fn compose(self, conversation: Option<ConversationId>, text: String) -> Result<(), String> {
        self.texts.check_text(&text)?;
        let id = new_message_id(now_ms() as f64, random(), random());
        self.apply(|model, courier| courier.compose(model, id, conversation, &text, local_time()));
        Ok(())
    }

    /// The person is typing (into `conversation`, for agents).
    pub(crate) fn typing(self, conversation: Option<ConversationId>) {
        let effects = self.courier.try_update_value(|courier| courier.typing(conversation, now_ms()));
        self.run(effects.unwrap_or_default());
    }

    /// The person has seen `conversation` (for agents) up to `seq`, if the page is in view.
    pub(crate) fn seen(self, conversation: Option<ConversationId>, seq: Option<Seq>) {
        let visible = web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
        let Some(seq) = seq.filter(|_| visible) else { return };
        let effects = self.courier.try_update_value(|courier| courier.seen(conversation, seq));
        self.run(effects.unwrap_or_default());
    }

    /// Whether an indicator that runs until `until` should show now.
    pub(crate) fn showing(self, until: Option<u64>) -> bool {
        until.is_some_and(|until| self.clock.get() < until)
    }

    pub(crate) fn retry(self, entry: u64) {
        self.apply(|model, courier| courier.retry(model, entry));
    }

    /// The person scrolled to the top of `conversation`: fetch older messages.
    pub(crate) fn older(self, conversation: ConversationId) {
        let effects = self
            .model
            .with_untracked(|model| {
                self.courier.try_update_value(|courier| courier.older(model, conversation))
            })
            .unwrap_or_default();
        self.run(effects);
    }

    /// Sends a control frame (friend or team); `false` when the link is not ready for it.
    pub(crate) fn control_frame(self, frame: ClientMessage) -> bool {
        let effect = self.courier.with_value(|courier| courier.control_frame(frame));
        let sent = effect.is_some();
        self.run(effect.into_iter().collect());
        sent
    }

    /// The protocol of the current (or last) connection.
    pub(crate) fn protocol(self) -> Protocol {
        self.protocol.get()
    }

    /// Status label: the state in words (with `agents`, whether customer service is there,
    /// for the visitor), and how many messages wait while offline.
    pub(crate) fn status_label(self, agents: Option<bool>) -> String {
        let (status, retrying) = self.link_state.get();
        let label = self.texts.visitor_status(status, retrying, agents);
        match self.queued.get() {
            n if n > 0 && status != Status::Online => format!("{label} · {n} {}", self.texts.queued),
            _ => label.to_owned(),
        }
    }
}
