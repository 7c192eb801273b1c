//! The console's team inbox: the views with their live counts, the open conversation's
//! actions (take, hand over or give back, resolve or reopen, snooze), the keyboard (j/k, e,
//! t, ? with its help overlay). All of it only when the backend has a team inbox; the logic
//! is `kefu_core::team`'s.

use kefu_core::inbox::Inbox;
use kefu_core::team::{key_action, KeyAction, PendingNote, View};
use kefu_core::team_texts::{self, TeamTexts};
use kefu_protocol::team::Status;
use kefu_protocol::v1::{ClientMessage, ConversationId};
use leptos::prelude::*;

use crate::browser::chat::Chat;
use crate::browser::json::JsObject;
use crate::browser::lowercase;
use crate::browser::storage::{self, now_ms, Key};
use crate::pages::texts;

/// The console's team texts, in the page's language.
pub(super) fn team_texts() -> &'static TeamTexts {
    team_texts::for_lang(texts().lang)
}

/// The view shown, and whether the help overlay and the canned replies are open.
#[derive(Clone, Copy)]
pub(super) struct Desk {
    pub(super) view: RwSignal<View>,
    /// The list's filter by name (the list and j/k go through the same rows).
    pub(super) filter: RwSignal<String>,
    pub(super) help: RwSignal<bool>,
    pub(super) canned: RwSignal<bool>,
}

impl Desk {
    pub(super) fn new() -> Desk {
        Desk {
            view: RwSignal::new(View::All),
            filter: RwSignal::new(String::new()),
            help: RwSignal::new(false),
            canned: RwSignal::new(false),
        }
    }
}

fn label(view: View, t: &TeamTexts) -> &'static str {
    match view {
        View::Mine => t.mine,
        View::Unassigned => t.unassigned,
        View::All => t.all,
        View::Snoozed => t.snoozed,
        View::Resolved => t.resolved,
    }
}

/// The views, each with its count (of the conversations the console has). Drawn whole on a
/// change (one reactive closure keeps the console small).
#[component]
pub(super) fn ViewTabs(inbox: RwSignal<Inbox>, desk: Desk) -> impl IntoView {
    let t = team_texts();
    let counts = Memo::new(move |_| inbox.with(|i| i.team.enabled.then(|| i.team.counts(i.uids()))));
    move || {
        let counts = counts.get()?;
        let current = desk.view.get();
        let buttons = View::ALL
            .into_iter()
            .zip(counts)
            .map(|(view, count)| {
                view! {
                    <button type="button" class="view" data-view=view.as_str() aria-pressed=(current == view).to_string()
                        on:click=move |_| desk.view.set(view)>
                        {label(view, t)}" "<span class="view-count" data-count=count.to_string()>{count}</span>
                    </button>
                }
            })
            .collect_view();
        Some(view! { <div class="views" role="group" aria-label=t.views>{buttons}</div> })
    }
}

/// Sends a team frame; a link not ready says so in the notices. Whether it was sent.
pub(super) fn send(chat: Chat<Inbox>, frame: ClientMessage) -> bool {
    let sent = chat.control_frame(frame);
    if !sent {
        chat.model.update(|inbox| inbox.push_notice(texts().offline, crate::browser::storage::local_time()));
    }
    sent
}

/// Takes or resolves the open conversation (the buttons and the keys do the same).
pub(super) fn act(chat: Chat<Inbox>, conversation: ConversationId, action: KeyAction) {
    let frame = match action {
        KeyAction::Take => ClientMessage::Take { conversation },
        KeyAction::Resolve => {
            ClientMessage::SetStatus { conversation, status: Status::Resolved, until: None }
        }
        _ => return,
    };
    send(chat, frame);
}

/// The open conversation's team actions: who has it (hand over, give back), take, resolve or
/// reopen, snooze. Drawn whole from the conversation's state (one reactive closure: small).
#[component]
pub(super) fn ConversationActions(chat: Chat<Inbox>) -> impl IntoView {
    let t = team_texts();
    let inbox = chat.model;
    let shown = Memo::new(move |_| {
        inbox.with(|i| {
            let conversation = i.selected_id().filter(|_| i.team.enabled)?;
            Some((i.team.state(conversation), i.team.agents.clone()))
        })
    });
    move || {
        let (state, agents) = shown.get()?;
        let conversation = state.conversation;
        let assignee = state.assignee.clone().unwrap_or_default();
        let status = move |status, until| ClientMessage::SetStatus { conversation, status, until };
        let on_assign = move |ev: leptos::ev::Event| {
            let to = event_target_value(&ev);
            send(chat, ClientMessage::Assign { conversation, to: (!to.is_empty()).then_some(to) });
        };
        let on_snooze = move |ev: leptos::ev::Event| {
            let now = now_ms() as i64;
            let until = match event_target_value(&ev).as_str() {
                "hour" => Some(now + 3_600_000),
                "tomorrow" => Some(now + 24 * 3_600_000),
                "reply" => None,
                _ => return,
            };
            send(chat, status(Status::Snoozed, until));
        };
        let options = agents
            .into_iter()
            .map(|agent| {
                let selected = agent.name == assignee;
                let name = agent.name.clone();
                view! { <option value=agent.name selected=selected>{name}</option> }
            })
            .collect_view();
        // Take is for a conversation nobody has (someone's: hand it over with the list).
        let take = state.assignee.is_none().then(|| {
            view! { <button type="button" class="take" on:click=move |_| act(chat, conversation, KeyAction::Take)>{t.take}</button> }
        });
        let open = state.status == Status::Open;
        let (class, label, next) =
            if open { ("resolve", t.resolve, Status::Resolved) } else { ("reopen", t.reopen, Status::Open) };
        let resolve_or_reopen = view! {
            <button type="button" class=class on:click=move |_| { send(chat, status(next, None)); }>{label}</button>
        };
        let snooze = open.then(|| {
            view! {
                <select class="snooze" aria-label=t.snooze on:change=on_snooze>
                    <option value="">{t.snooze}</option>
                    <option value="hour">{t.snooze_hour}</option>
                    <option value="tomorrow">{t.snooze_tomorrow}</option>
                    <option value="reply">{t.snooze_reply}</option>
                </select>
            }
        });
        Some(view! {
            <div class="team-actions" data-status=state.status.as_str() data-assignee=assignee.clone()>
                <label class="assignee">
                    <span>{t.assigned_to}</span>
                    <select class="assign" on:change=on_assign>
                        <option value="" selected=assignee.is_empty()>{t.unassigned}</option>
                        {options}
                    </select>
                </label>
                {take}
                {resolve_or_reopen}
                {snooze}
            </div>
        })
    }
}

/// The conversations of the view that pass the filter, in the list's order: what the list
/// shows and j/k move through. `order` is every conversation, most recent first (the list
/// keeps it between view switches: sorting 10,000 is most of a switch's work).
pub(super) fn shown_ids(
    inbox: &Inbox,
    order: &[ConversationId],
    view: View,
    filter: &str,
) -> Vec<ConversationId> {
    let in_view = |c: &ConversationId| inbox.team.in_view(view, *c);
    if filter.trim().is_empty() {
        order.iter().copied().filter(in_view).collect()
    } else {
        inbox.filtered(filter, lowercase).iter().map(|c| c.uid).filter(in_view).collect()
    }
}

/// Every conversation, most recent first.
pub(super) fn order(inbox: &Inbox) -> Vec<ConversationId> {
    inbox.conversations().iter().map(|c| c.uid).collect()
}

/// The notes an earlier page kept under `key` (none if unreadable).
pub(super) fn stored_notes(key: &Key) -> Vec<PendingNote> {
    let stored = storage::get(key).and_then(|json| JsObject::parse_list(&json)).unwrap_or_default();
    stored.iter().filter_map(PendingNote::from_fields).collect()
}

/// Keeps the notes waiting to be stored under `key`, whenever they change: a reload, a closed
/// tab or a crash loses no note (they are sent again on the next link).
pub(super) fn keep_notes(chat: Chat<Inbox>, key: Key) {
    Effect::new(move |saved: Option<Vec<PendingNote>>| {
        let pending = chat.model.with(|inbox| inbox.team.pending.clone());
        if saved.as_ref() != Some(&pending) {
            let items = pending.iter().map(PendingNote::to_fields).collect();
            if !storage::set(&key, &JsObject::list_to_json(items)) {
                chat.model.update(|inbox| inbox.push_notice(texts().outbox_not_saved, storage::local_time()));
            }
        }
        pending
    });
}

/// Listens for the console's keys (not while typing in a field).
pub(super) fn install_keys(chat: Chat<Inbox>, desk: Desk) {
    let handle = window_event_listener(leptos::ev::keydown, move |ev| {
        let typing = ev
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        if typing || ev.ctrl_key() || ev.meta_key() || !chat.model.with_untracked(|i| i.team.enabled) {
            return;
        }
        let Some(action) = key_action(&ev.key(), ev.alt_key()) else { return };
        ev.prevent_default();
        let selected = chat.model.with_untracked(Inbox::selected_id);
        match action {
            KeyAction::Help => desk.help.update(|open| *open = !*open),
            KeyAction::Close => desk.help.set(false),
            KeyAction::Next | KeyAction::Previous => chat.model.update(|inbox| {
                let ids = desk
                    .filter
                    .with_untracked(|f| shown_ids(inbox, &order(inbox), desk.view.get_untracked(), f));
                let at = selected.and_then(|s| ids.iter().position(|c| *c == s));
                let next = match (action, at) {
                    (KeyAction::Next, Some(n)) => ids.get(n + 1),
                    (KeyAction::Previous, Some(n)) => n.checked_sub(1).and_then(|n| ids.get(n)),
                    _ => ids.first(),
                };
                if let Some(next) = next.copied() {
                    inbox.select(next);
                }
            }),
            KeyAction::Take | KeyAction::Resolve => {
                if let Some(conversation) = selected {
                    act(chat, conversation, action);
                }
            }
        }
    });
    on_cleanup(move || handle.remove());
}

/// The keys, listed (`?` opens it, Esc or the button closes it).
#[component]
pub(super) fn HelpOverlay(desk: Desk) -> impl IntoView {
    let t = team_texts();
    move || {
        desk.help.get().then(|| {
            let keys = [("j", t.key_next), ("k", t.key_previous), ("e", t.resolve), ("t", t.take), ("?", t.key_help), ("Esc", t.close)];
            view! {
                <div class="overlay" role="dialog" aria-modal="true" aria-labelledby="keys-title">
                    <div class="overlay-box">
                        <h2 id="keys-title">{t.keys}</h2>
                        <dl class="keys">
                            {keys.map(|(key, what)| view! { <dt><kbd>{key}</kbd></dt><dd>{what}</dd> }).collect_view()}
                        </dl>
                        <button type="button" class="close-help" on:click=move |_| desk.help.set(false)>{t.close}</button>
                    </div>
                </div>
            }
        })
    }
}
