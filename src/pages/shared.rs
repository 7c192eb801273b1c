//! Small components shared by both pages: status indicator, message list (grouped by day),
//! avatar, composer, emoji. Text is always inserted as text nodes; nothing here sets inner HTML. UI texts come
//! from the context ([`super::texts`]).

use kefu_core::connection::Status;
use kefu_core::timeline::{Delivery, Entry, From, RenderKey};
use kefu_core::when::{self, Stamp};
use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::html::Div;
use leptos::prelude::*;

use super::texts;
use crate::browser::storage::local_time;

/// Dot with a text label; `role="status"` and `data-state` for tests and AT. With `agents`
/// (the visitor's view) it also says whether customer service is there: `data-agents`
/// `online` / `away` / `unknown`, and an amber dot when connected but nobody is there.
/// `detail` is the longer story, as a tooltip (why the link dropped, what "away" means).
#[component]
pub fn StatusIndicator(
    status: Signal<Status>,
    label: Signal<String>,
    #[prop(optional)] agents: Option<Signal<Option<bool>>>,
    #[prop(optional)] detail: Option<Signal<Option<String>>>,
) -> impl IntoView {
    let agents_attr = move || {
        agents.map(|agents| match agents.get() {
            Some(true) => "online",
            Some(false) => "away",
            None => "unknown",
        })
    };
    let away = move || {
        let away = status.get() == Status::Online && agents.is_some_and(|a| a.get() == Some(false));
        away.then_some("true")
    };
    view! {
        <span
            class="status"
            role="status"
            data-state=move || status.get().as_str()
            data-agents=agents_attr
            data-away=away
            title=move || detail.and_then(|detail| detail.get())
        >
            <span class="status-dot" aria-hidden="true"></span>
            <span class="status-label">{move || label.get()}</span>
        </span>
    }
}

/// A line of a message list: a day's heading, or a message (with the sender's name shown on
/// the first of a run of agent messages).
#[derive(Clone)]
enum Line {
    Day { date: String, label: String },
    Message { entry: Entry, named: bool },
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum LineKey {
    Day(String, String),
    Message(RenderKey, bool),
}

impl Line {
    fn key(&self) -> LineKey {
        match self {
            Line::Day { date, label } => LineKey::Day(date.clone(), label.clone()),
            Line::Message { entry, named } => LineKey::Message(entry.render_key(), *named),
        }
    }
}

/// The entries with day headings, as the person reads them today.
fn lines(entries: &[Entry]) -> Vec<Line> {
    let today = Stamp::parse(&local_time()).map(Stamp::date).unwrap_or_default();
    let rows = when::with_days(entries.iter().map(|e| e.time.as_str()), today, texts());
    let mut previous: Option<&Entry> = None;
    rows.into_iter()
        .map(|row| match row {
            when::Row::Day { date, label } => {
                previous = None;
                Line::Day { date, label }
            }
            when::Row::Item(index) => {
                let entry = &entries[index];
                // Agents' messages and notes name their writer (once per run of them).
                let named = matches!(entry.from, From::Agent | From::Note)
                    && !previous.is_some_and(|p| p.from == entry.from && p.username == entry.username);
                previous = Some(entry);
                Line::Message { entry: entry.clone(), named }
            }
        })
        .collect()
}

/// A scrolling log of messages that keeps the newest in view, keeps its place when older
/// messages are added above, and calls `on_top` when scrolled to the top.
#[component]
pub fn MessageList(
    entries: Signal<Vec<Entry>>,
    on_retry: Callback<u64>,
    #[prop(optional)] on_top: Option<Callback<()>>,
    /// A greeting shown first, as from the service (the user page).
    #[prop(optional)]
    welcome: Option<Signal<String>>,
) -> impl IntoView {
    let texts = texts();
    let list: NodeRef<Div> = NodeRef::new();
    let last_shown = StoredValue::new(None::<RenderKey>);
    let height = StoredValue::new(0);
    Effect::new(move |_| {
        let last = entries.with(|entries| entries.last().map(Entry::render_key));
        let newest_changed = last_shown.with_value(|shown| *shown != last);
        last_shown.set_value(last);
        if let Some(element) = list.get() {
            request_animation_frame(move || {
                if newest_changed {
                    element.set_scroll_top(element.scroll_height());
                } else {
                    // Older messages came in above: keep what the person was reading in place.
                    let grown = element.scroll_height() - height.get_value();
                    element.set_scroll_top(element.scroll_top() + grown);
                }
                height.set_value(element.scroll_height());
            });
        }
    });
    let on_scroll = move |_| {
        if let Some(element) = list.get() {
            height.set_value(element.scroll_height());
            if element.scroll_top() < 40 {
                if let Some(on_top) = on_top {
                    on_top.run(());
                }
            }
        }
    };
    view! {
        // A log of entries (not a list: role=log would make list items orphans).
        <div
            class="messages"
            role="log"
            aria-live="polite"
            aria-label=texts.messages_label
            node_ref=list
            on:scroll=on_scroll
        >
            {welcome
                .map(|welcome| {
                    view! {
                        <div class="msg msg-agent welcome" data-welcome="true">
                            <div class="msg-row">
                                <div class="bubble">{move || welcome.get()}</div>
                            </div>
                        </div>
                    }
                })}
            <For
                each=move || entries.with(|entries| lines(entries))
                key=Line::key
                children=move |line| match line {
                    Line::Day { date, label } => {
                        view! { <div class="day" data-day=date>{label}</div> }.into_any()
                    }
                    Line::Message { entry, named } => view! { <MessageItem entry named on_retry /> }.into_any(),
                }
            />
        </div>
    }
}

#[component]
fn MessageItem(entry: Entry, named: bool, on_retry: Callback<u64>) -> impl IntoView {
    let texts = texts();
    let id = entry.id;
    let avatar = matches!(entry.from, From::Agent | From::User)
        .then(|| view! { <Avatar url=entry.avatar.clone() name=entry.username.clone() /> });
    let state = match entry.delivery {
        Delivery::Sending => Some(view! { <div class="msg-state">{texts.sending}</div> }.into_any()),
        Delivery::Failed => Some(
            view! {
                <div class="msg-state msg-failed">
                    <span>{texts.failed}</span>
                    {entry.reason.clone().map(|reason| view! { <span class="msg-reason">{reason}</span> })}
                    <button type="button" class="retry" on:click=move |_| on_retry.run(id)>
                        {texts.retry}
                    </button>
                </div>
            }
            .into_any(),
        ),
        Delivery::Sent if entry.read => {
            Some(view! { <div class="msg-state msg-read">{texts.read}</div> }.into_any())
        }
        Delivery::Sent => None,
    };
    view! {
        <div
            class=format!("msg msg-{}", entry.from.as_str())
            data-from=entry.from.as_str()
            data-delivery=entry.delivery.as_str()
            data-read=entry.read.then_some("true")
        >
            {named.then(|| view! { <div class="msg-name">{entry.username.clone()}</div> })}
            <div class="msg-row">
                {avatar}
                <div class="bubble">{entry.text}</div>
                <time class="msg-time" title=entry.time.clone() datetime=entry.time.clone()>
                    {when::clock(&entry.time)}
                </time>
            </div>
            {state}
        </div>
    }
}

/// An avatar image, or the first letter of the name when there is no image.
#[component]
pub(crate) fn Avatar(url: String, name: String) -> impl IntoView {
    if url.is_empty() {
        let initial: String = name.chars().next().map(String::from).unwrap_or_default();
        view! { <span class="avatar avatar-initial" aria-hidden="true">{initial}</span> }.into_any()
    } else {
        view! { <img class="avatar" src=url alt=name /> }.into_any()
    }
}

/// Basic emoji offered by the picker.
const EMOJI: [&str; 24] = [
    "😀", "😂", "😊", "😍", "🤔", "😢", "😡", "😴", "👍", "👎", "🙏", "👏", "👋", "🤝", "🎉", "❤️", "💔",
    "🔥", "✅", "❌", "⭐", "🌹", "☕", "🍵",
];

/// Text input, emoji picker and send button, usable offline too (messages queue).
/// `on_send` returns the error to show, if any; the input clears only when the message was
/// accepted.
#[component]
pub(crate) fn Composer(
    on_send: Callback<String, Result<(), String>>,
    /// Called on every keystroke (the page throttles what it sends).
    #[prop(optional)]
    on_typing: Option<Callback<()>>,
) -> impl IntoView {
    let texts = texts();
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let picker_open = RwSignal::new(false);
    let send = move || match on_send.run(draft.get_untracked()) {
        Ok(()) => {
            draft.set(String::new());
            error.set(None);
            picker_open.set(false);
        }
        Err(message) => error.set(Some(message)),
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        send();
    };
    // Enter sends where there is a keyboard; Shift+Enter (and Enter on a phone, which has
    // the send button) starts a new line. Not while an input method is composing.
    let keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() && has_keyboard() {
            ev.prevent_default();
            send();
        }
    };
    let pick = Callback::new(move |emoji: &'static str| draft.update(|text| text.push_str(emoji)));
    view! {
        <form class="composer" on:submit=submit>
            {move || error.get().map(|message| view! { <p class="composer-error" role="alert">{message}</p> })}
            <Show when=move || picker_open.get()>
                <EmojiPicker on_pick=pick />
            </Show>
            <div class="composer-row">
                <button
                    type="button"
                    class="emoji-toggle"
                    aria-label=texts.emoji
                    aria-expanded=move || picker_open.get().to_string()
                    on:click=move |_| picker_open.update(|open| *open = !*open)
                >
                    "😀"
                </button>
                <textarea
                    class="composer-input"
                    rows="1"
                    aria-label=texts.message_label
                    placeholder=texts.placeholder
                    title=texts.send_hint
                    autocomplete="off"
                    prop:value=move || draft.get()
                    on:keydown=keydown
                    on:input=move |ev| {
                        draft.set(event_target_value(&ev));
                        error.set(None);
                        if let Some(on_typing) = on_typing {
                            on_typing.run(());
                        }
                    }
                ></textarea>
                <button type="submit" class="send" aria-label=texts.send>
                    {texts.send}
                </button>
            </div>
        </form>
    }
}

/// Whether the page is used with a keyboard: anything but a touch screen (whose keyboard's
/// Enter is for new lines, beside the send button).
fn has_keyboard() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(pointer: coarse)").ok().flatten())
        .is_none_or(|touch| !touch.matches())
}

#[component]
fn EmojiPicker(on_pick: Callback<&'static str>) -> impl IntoView {
    view! {
        <div class="emoji-picker" role="group" aria-label=texts().emoji>
            {EMOJI
                .iter()
                .map(|&emoji| {
                    view! {
                        <button type="button" class="emoji" aria-label=emoji on:click=move |_| on_pick.run(emoji)>
                            {emoji}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
}
