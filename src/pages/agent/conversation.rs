//! The open conversation in the console: its messages (older pages on scrolling up), the
//! user's typing, and the reply composer.

use kefu_core::inbox::Inbox;
use leptos::prelude::*;

use crate::browser::chat::Chat;
use crate::pages::shared::{Composer, MessageList};
use crate::pages::texts;

#[component]
pub(super) fn ConversationPane(chat: Chat<Inbox>) -> impl IntoView {
    let texts = texts();
    let inbox = chat.model;
    let selected = move || inbox.with_untracked(Inbox::selected_id);
    let send = Callback::new(move |text: String| match selected() {
        Some(conversation) => chat.compose(Some(conversation), text),
        None => Err(texts.pick_conversation.to_owned()),
    });
    let retry = Callback::new(move |entry: u64| chat.retry(entry));
    let typing = Callback::new(move |()| {
        if let Some(conversation) = selected() {
            chat.typing(Some(conversation));
        }
    });
    let older = Callback::new(move |()| {
        if let Some(conversation) = selected() {
            chat.older(conversation);
        }
    });
    // Reading: the open conversation, while the page is in view (re-checked as the clock ticks).
    Effect::new(move |_| {
        chat.clock.track();
        let open = inbox.with(|inbox| inbox.selected().map(|c| (c.uid, c.timeline.last_seq())));
        if let Some((conversation, last)) = open {
            chat.seen(Some(conversation), last);
        }
    });
    let user_typing = move || chat.showing(inbox.with(|inbox| inbox.selected().and_then(|c| c.typing_until)));
    let entries = Signal::derive(move || {
        inbox.with(|inbox| inbox.selected().map(|c| c.timeline.entries.clone()).unwrap_or_default())
    });
    view! {
        <section class="conversation">
            <Show
                when=move || inbox.with(|inbox| inbox.selected().is_some())
                fallback=move || view! { <p class="placeholder">{texts.pick_conversation}</p> }
            >
                <MessageList entries on_retry=retry on_top=older />
                <Show when=user_typing>
                    <p class="typing" data-typing="user" aria-live="polite">{texts.user_typing}</p>
                </Show>
                <Composer on_send=send on_typing=typing />
            </Show>
        </section>
    }
}
