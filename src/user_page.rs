//! The user page (`/`): chat with customer service, with the live connection status.
//! [`UserGate`] first settles who the visitor is: the app's user (`?uid=&token=`), a given id
//! (`?uid=`), or a guest identity from the server (kept across reloads).

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::chat::Chat;
use crate::config::PageConfig;
use crate::i18n::Texts;
use crate::identity;
use crate::timeline::UserChat;
use crate::ui::{Composer, MessageList, StatusIndicator};

/// Who the page speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visitor {
    pub uid: i64,
    pub token: Option<String>,
    /// A guest identity kept from an earlier visit (replaced if the server refuses it).
    pub kept_guest: bool,
}

#[component]
pub fn UserGate(config: PageConfig, texts: &'static Texts) -> impl IntoView {
    let visitor = RwSignal::new(None::<Visitor>);
    match config.uid {
        Some(uid) => visitor.set(Some(Visitor { uid, token: config.token.clone(), kept_guest: false })),
        None => {
            let config = config.clone();
            spawn_local(async move {
                let had_guest = identity::has_guest(&config);
                let found = match identity::guest(&config).await {
                    Some(guest) => {
                        // A replaced guest's unsent messages are sent as the new one.
                        if let Some(previous) = identity::take_previous_guest().filter(|p| *p != guest.uid) {
                            let (from, to) = (outbox_key(&config, previous), outbox_key(&config, guest.uid));
                            identity::move_stored(&from, &to);
                        }
                        Visitor { uid: guest.uid, token: Some(guest.token), kept_guest: had_guest }
                    }
                    None => Visitor { uid: crate::guest_uid(), token: None, kept_guest: false },
                };
                visitor.set(Some(found));
            });
        }
    }
    move || match visitor.get() {
        Some(visitor) => view! { <UserPage config=config.clone() visitor texts /> }.into_any(),
        None => view! {
            <div class="page user-page">
                <header class="bar">
                    <h1 class="title">{texts.title}</h1>
                    <StatusIndicator
                        status=Signal::derive(|| crate::connection::Status::Connecting)
                        label=Signal::derive(move || texts.connecting.to_owned())
                    />
                </header>
            </div>
        }
        .into_any(),
    }
}

/// Where the user page keeps the outbox of `uid`.
fn outbox_key(config: &PageConfig, uid: i64) -> String {
    format!("kefu.outbox.{}.{uid}", config.server)
}

#[component]
pub fn UserPage(config: PageConfig, visitor: Visitor, texts: &'static Texts) -> impl IntoView {
    let uid = visitor.uid;
    let storage_key = outbox_key(&config, uid);
    let url = kefu_protocol::endpoint_url_with_token(&config.server, uid, visitor.token.as_deref());
    let chat = Chat::start(url, config.timing, storage_key, UserChat::new(uid), texts);
    // A kept guest identity the server no longer accepts (its key changed): start afresh.
    Effect::new(move |_| {
        if let Some(reason) = chat.refused.get() {
            if visitor.kept_guest {
                identity::forget_guest(&config);
                identity::remember_previous_guest(uid);
                identity::restart_with(&reason);
            }
        }
    });
    let refusal = identity::take_refusal();
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
            {refusal.map(|reason| view! { <p class="banner" role="note">{texts.identity_renewed}": "{reason}</p> })}
            <Show when=move || chat.refused.with(Option::is_some)>
                <p class="banner refused" role="alert">
                    {texts.refused}": "{move || chat.refused.get().unwrap_or_default()}
                </p>
            </Show>
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
