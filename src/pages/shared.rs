//! Small components shared by both pages: status indicator, message list, avatar, composer,
//! emoji. Text is always inserted as text nodes; nothing here sets inner HTML. UI texts come
//! from the context ([`super::texts`]).

use kefu_core::connection::Status;
use kefu_core::timeline::{Delivery, Entry, From, RenderKey};
use leptos::ev::SubmitEvent;
use leptos::html::Ol;
use leptos::prelude::*;

use super::texts;

/// Green/grey dot with a text label; `role="status"` and `data-state` for tests and AT.
#[component]
pub fn StatusIndicator(status: Signal<Status>, label: Signal<String>) -> impl IntoView {
    view! {
        <span class="status" role="status" data-state=move || status.get().as_str()>
            <span class="status-dot" aria-hidden="true"></span>
            <span class="status-label">{move || label.get()}</span>
        </span>
    }
}

/// A scrolling log of messages that keeps the newest in view, keeps its place when older
/// messages are added above, and calls `on_top` when scrolled to the top.
#[component]
pub fn MessageList(
    entries: Signal<Vec<Entry>>,
    on_retry: Callback<u64>,
    #[prop(optional)] on_top: Option<Callback<()>>,
) -> impl IntoView {
    let texts = texts();
    let list: NodeRef<Ol> = NodeRef::new();
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
        <ol
            class="messages"
            role="log"
            aria-live="polite"
            aria-label=texts.messages_label
            node_ref=list
            on:scroll=on_scroll
        >
            <For
                each=move || entries.get()
                key=|entry| entry.render_key()
                children=move |entry| view! { <MessageItem entry on_retry /> }
            />
        </ol>
    }
}

#[component]
fn MessageItem(entry: Entry, on_retry: Callback<u64>) -> impl IntoView {
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
        <li
            class=format!("msg msg-{}", entry.from.as_str())
            data-from=entry.from.as_str()
            data-delivery=entry.delivery.as_str()
            data-read=entry.read.then_some("true")
        >
            <div class="msg-time">{entry.time}</div>
            <div class="msg-row">
                {avatar}
                <div class="bubble">{entry.text}</div>
            </div>
            {state}
        </li>
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
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        match on_send.run(draft.get_untracked()) {
            Ok(()) => {
                draft.set(String::new());
                error.set(None);
                picker_open.set(false);
            }
            Err(message) => error.set(Some(message)),
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
                <input
                    class="composer-input"
                    type="text"
                    aria-label=texts.message_label
                    placeholder=texts.placeholder
                    autocomplete="off"
                    enterkeyhint="send"
                    prop:value=move || draft.get()
                    on:input=move |ev| {
                        draft.set(event_target_value(&ev));
                        error.set(None);
                        if let Some(on_typing) = on_typing {
                            on_typing.run(());
                        }
                    }
                />
                <button type="submit" class="send" aria-label=texts.send>
                    {texts.send}
                </button>
            </div>
        </form>
    }
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
