//! The user page (`/`): chat with customer service, with the live connection status.

use kefu_protocol::endpoint_url;
use leptos::prelude::*;

use crate::chat::Chat;
use crate::config::PageConfig;
use crate::i18n::Texts;
use crate::timeline::UserChat;
use crate::ui::{Composer, MessageList, StatusIndicator};

#[component]
pub fn UserPage(config: PageConfig, uid: i64, texts: &'static Texts) -> impl IntoView {
    let storage_key = format!("kefu.outbox.{}.{uid}", config.server);
    let chat =
        Chat::start(endpoint_url(&config.server, uid), config.timing, storage_key, UserChat::new(uid), texts);
    let send = Callback::new(move |text: String| chat.compose(None, text));
    let retry = Callback::new(move |entry: u64| chat.retry(entry));
    let older = Callback::new(move |()| chat.older(uid));
    let typing = Callback::new(move |()| chat.typing(None));
    // Reading: whatever is shown while the page is in view (re-checked as the clock ticks,
    // so coming back to the tab counts too).
    Effect::new(move |_| {
        chat.clock.track();
        let last = chat.model.with(|chat| chat.timeline.last_seq());
        chat.seen(None, last);
    });
    let agent_typing = move || chat.showing(chat.model.with(|chat| chat.agent_typing_until));

    view! {
        <div class="page user-page">
            <header class="bar">
                <h1 class="title">{texts.title}</h1>
                <StatusIndicator
                    status=Signal::derive(move || chat.link_state.get().0)
                    label=Signal::derive(move || chat.status_label())
                />
            </header>
            <Show when=move || chat.model.with(|chat| chat.agents_online == Some(false))>
                <p class="away" role="note" data-away="true">{texts.away}</p>
            </Show>
            <MessageList
                entries=Signal::derive(move || chat.model.with(|chat| chat.timeline.entries.clone()))
                texts
                on_retry=retry
                on_top=older
            />
            <Show when=agent_typing>
                <p class="typing" data-typing="agent" aria-live="polite">{texts.agent_typing}</p>
            </Show>
            <Composer texts on_send=send on_typing=typing />
        </div>
    }
}
