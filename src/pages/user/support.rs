//! The customer-service page (`/`): the conversation with customer service and the live
//! connection status; with a v2 server, tabs to the Friends page, whose tab counts what is new
//! there.

use kefu_core::config::PageConfig;
use kefu_core::connection::Status;
use kefu_core::user_chat::UserChat;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{start_chat, title_with_news, Tabs, Visitor};
use crate::browser::chat::Chat;
use crate::browser::identity;
use crate::pages::shared::{Avatar, Composer, MessageList, StatusIndicator};
use crate::pages::texts;

/// The page, for [`super::UserGate`].
pub(crate) fn page(config: PageConfig, visitor: Visitor) -> AnyView {
    view! { <SupportPage config visitor /> }.into_any()
}

#[component]
fn SupportPage(config: PageConfig, visitor: Visitor) -> impl IntoView {
    let texts = texts();
    let uid = visitor.uid;
    let chat = start_chat(&config, &visitor, UserChat::new(uid));
    let send = Callback::new(move |text: String| chat.compose(None, text));
    let retry = Callback::new(move |entry: u64| chat.retry(entry));
    // The page's own conversation (a uid outside the ids' ranges has none to page).
    let older = Callback::new(move |()| {
        if let Some(own) = kefu_protocol::v1::ConversationId::new(uid) {
            chat.older(own)
        }
    });
    let typing = Callback::new(move |()| chat.typing(None));
    // Reading: whatever is shown while the page is in view (re-checked as the clock ticks,
    // so coming back to the tab counts too).
    Effect::new(move |_| {
        chat.clock.track();
        let last = chat.model.with(|chat| chat.timeline.last_seq());
        chat.seen(None, last);
    });
    let agent_typing = Signal::derive(move || chat.showing(chat.model.with(|chat| chat.agent_typing_until)));
    // The operator's name for the service and greeting, when the backend has them.
    let branding = RwSignal::new(kefu_protocol::api::Branding::default());
    {
        let config = config.clone();
        spawn_local(async move {
            if let Some(settings) = identity::settings(&config).await {
                branding.set(settings.branding);
            }
        });
    }
    let service = Signal::derive(move || {
        branding.with(|b| b.service_name(texts.lang).unwrap_or(texts.service).to_owned())
    });
    let welcome =
        Signal::derive(move || branding.with(|b| b.welcome(texts.lang).unwrap_or(texts.welcome).to_owned()));
    let agents = Signal::derive(move || chat.model.with(|chat| chat.agents_online));
    let status_detail = Signal::derive(move || {
        let (status, _) = chat.link_state.get();
        if status == Status::Online {
            (agents.get() == Some(false)).then(|| texts.away_detail.to_owned())
        } else {
            chat.last_close.get()
        }
    });

    let friends_on = Memo::new(move |_| chat.model.with(|m| m.friends_on));
    let news = Signal::derive(move || chat.model.with(|m| m.news.total()));
    // Unread peer messages and requests show in the browser tab's title too.
    title_with_news(service, news);

    view! {
        <div class="page user-page" data-screen="support">
            <Show when=move || friends_on.get()>
                <Tabs news />
            </Show>
            <SupportView chat service welcome agents status_detail retry older send typing agent_typing />
        </div>
    }
}

/// The conversation with customer service.
#[component]
#[allow(clippy::too_many_arguments)]
fn SupportView(
    chat: Chat<UserChat>,
    service: Signal<String>,
    welcome: Signal<String>,
    agents: Signal<Option<bool>>,
    status_detail: Signal<Option<String>>,
    retry: Callback<u64>,
    older: Callback<()>,
    send: Callback<String, Result<(), String>>,
    typing: Callback<()>,
    agent_typing: Signal<bool>,
) -> impl IntoView {
    let texts = texts();
    view! {
            <header class="bar">
                {move || view! { <Avatar url=String::new() name=service.get() /> }}
                <div class="bar-text">
                    <h1 class="title">{move || service.get()}</h1>
                    <StatusIndicator
                        status=Signal::derive(move || chat.link_state.get().0)
                        label=Signal::derive(move || chat.status_label(agents.get()))
                        agents
                        detail=status_detail
                    />
                </div>
            </header>
            <Banners chat />
            <MessageList
                entries=Signal::derive(move || chat.model.with(|chat| chat.timeline.entries.clone()))
                on_retry=retry
                on_top=older
                welcome
            />
            <Show when=move || agent_typing.get()>
                <p class="typing" data-typing="agent" aria-live="polite">{texts.agent_typing}</p>
            </Show>
            <Composer on_send=send on_typing=typing />
    }
}

/// What the page says above the messages: a renewed identity, a refused one, an id the
/// backend does not know.
#[component]
fn Banners(chat: Chat<UserChat>) -> impl IntoView {
    let texts = texts();
    let refusal = identity::take_refusal();
    view! {
        {refusal.map(|reason| view! { <p class="banner" role="note">{texts.identity_renewed}": "{reason}</p> })}
        <Show when=move || chat.refused.with(Option::is_some)>
            <p class="banner refused" role="alert">
                {texts.refused}": "{move || chat.refused.get().unwrap_or_default()}
            </p>
        </Show>
        <Show when=move || chat.model.with(|chat| chat.unknown_user)>
            <p class="banner refused" role="alert" data-unknown-user="true">{texts.unknown_user}</p>
        </Show>
    }
}
