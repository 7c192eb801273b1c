//! The open conversation in the console: a header naming the user (and whether online),
//! its messages (older pages on scrolling up), the user's typing, and the reply composer.

use kefu_core::inbox::Inbox;
use leptos::prelude::*;

use super::composer::TeamComposer;
use super::team::{team_texts, ConversationActions};
use crate::browser::chat::Chat;
use crate::browser::storage::local_time_of;
use crate::pages::shared::MessageList;
use crate::pages::texts;

#[component]
pub(super) fn ConversationPane(chat: Chat<Inbox>) -> impl IntoView {
    let texts = texts();
    let inbox = chat.model;
    // The original backend says nothing of presence: no guess shown.
    let presence_known = move || chat.protocol() != kefu_core::courier::Protocol::V0;
    let selected = move || inbox.with_untracked(Inbox::selected_id);
    let retry = Callback::new(move |entry: u64| chat.retry(entry));
    // The open conversation's team timeline, asked for once per link.
    Effect::new(move |_| {
        let open = inbox.with(|i| i.selected_id().filter(|c| i.team.enabled && !i.team.has_events(*c)));
        if let Some(conversation) = open {
            let frame = inbox.try_update(|i| i.team.ask_events(conversation));
            if let Some(frame) = frame {
                chat.control_frame(frame);
            }
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
    let t = team_texts();
    let entries = Signal::derive(move || {
        inbox.with(|inbox| {
            inbox
                .selected()
                .map(|c| inbox.team.merged(c.uid, &c.timeline.entries, t, local_time_of))
                .unwrap_or_default()
        })
    });
    view! {
        <section class="conversation">
            <Show
                when=move || inbox.with(|inbox| inbox.selected().is_some())
                fallback=move || view! { <p class="placeholder">{texts.pick_conversation}</p> }
            >
                // Who this is: the name, and whether online (where the backend says so);
                // the team's actions will stand here too.
                <header class="conversation-header" data-uid=move || inbox.with(|i| i.selected().map(|c| c.uid.to_string()))>
                    <h2 class="conversation-title">{move || inbox.with(|i| i.selected().map(|c| c.username.clone()).unwrap_or_default())}</h2>
                    {move || inbox.with(|i| {
                        let c = i.selected()?;
                        presence_known().then(|| {
                            let shown = if c.online { texts.user_online } else { texts.user_offline };
                            view! { <span class="conversation-presence" data-online=c.online.to_string()>{shown}</span> }
                        })
                    })}
                    <ConversationActions chat />
                </header>
                <MessageList entries on_retry=retry on_top=older />
                <Show when=user_typing>
                    <p class="typing" data-typing="user" aria-live="polite">{texts.user_typing}</p>
                </Show>
                <TeamComposer chat />
            </Show>
        </section>
    }
}
