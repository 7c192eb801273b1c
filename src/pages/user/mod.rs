//! The user page (`/`): chat with customer service, with the live connection status; with a
//! v2 server, also friends and their conversations ([`friends`]), on tabs whose screen is
//! kept in the address.
//! [`UserGate`] first settles who the visitor is: the app's user (`?uid=&token=`), a given id
//! (`?uid=`), or a guest identity from the server (kept across reloads).

mod friends;

use kefu_core::config::{PageConfig, Screen};
use kefu_core::connection::Status;
use kefu_core::user_chat::UserChat;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser::address;
use crate::browser::chat::Chat;
use crate::browser::identity;
use crate::browser::storage::Key;
use crate::pages::shared::{Avatar, Composer, MessageList, StatusIndicator};
use crate::pages::texts;

/// Who the page speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Visitor {
    uid: i64,
    token: Option<String>,
    /// A guest identity kept from an earlier visit (replaced if the server refuses it).
    kept_guest: bool,
}

#[component]
pub(crate) fn UserGate(config: PageConfig) -> impl IntoView {
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
                        identity::adopt_previous_guest_outbox(&config, guest.uid);
                        Visitor { uid: guest.uid, token: Some(guest.token), kept_guest: had_guest }
                    }
                    None => Visitor { uid: identity::made_up_guest_uid(), token: None, kept_guest: false },
                };
                visitor.set(Some(found));
            });
        }
    }
    move || match visitor.get() {
        Some(visitor) => view! { <UserPage config=config.clone() visitor /> }.into_any(),
        None => view! { <Connecting /> }.into_any(),
    }
}

/// The page's frame while the visitor's identity is being settled.
#[component]
fn Connecting() -> impl IntoView {
    let texts = texts();
    view! {
        <div class="page user-page">
            <header class="bar">
                <Avatar url=String::new() name=texts.service.to_owned() />
                <div class="bar-text">
                    <h1 class="title">{texts.service}</h1>
                    <StatusIndicator
                        status=Signal::derive(|| Status::Connecting)
                        label=Signal::derive(move || texts.connecting.to_owned())
                    />
                </div>
            </header>
        </div>
    }
}

#[component]
fn UserPage(config: PageConfig, visitor: Visitor) -> impl IntoView {
    let texts = texts();
    let uid = visitor.uid;
    let outbox = Key::UserOutbox { server: config.server.clone(), uid };
    let url = kefu_protocol::endpoint_url_with_token(&config.server, uid, visitor.token.as_deref());
    let chat = Chat::start(url, config.timing, outbox, UserChat::new(uid), texts);
    // A kept guest identity the server no longer accepts (its key changed): start afresh.
    let kept_config = config.clone();
    Effect::new(move |_| {
        if let Some(reason) = chat.refused.get() {
            if visitor.kept_guest {
                identity::forget_guest(&kept_config);
                identity::remember_previous_guest(uid);
                identity::restart_with(&reason);
            }
        }
    });
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
    let welcome = Signal::derive(move || {
        branding.with(|b| b.welcome(texts.lang).unwrap_or(texts.welcome).to_owned())
    });
    let agents = Signal::derive(move || chat.model.with(|chat| chat.agents_online));
    let status_detail = Signal::derive(move || {
        let (status, _) = chat.link_state.get();
        if status == Status::Online {
            (agents.get() == Some(false)).then(|| texts.away_detail.to_owned())
        } else {
            chat.last_close.get()
        }
    });

    let screen = RwSignal::new(config.screen);
    address::follow(screen);
    // Memos: the screens below are rebuilt when the screen changes, not with every message.
    let friends_on = Memo::new(move |_| chat.model.with(|m| m.friends_on));
    // The screen shown: the Friends screens only once the server has friends.
    let shown = Memo::new(move |_| if friends_on.get() { screen.get() } else { Screen::Support });
    let friends_side = Memo::new(move |_| shown.get() != Screen::Support);
    let peer = Memo::new(move |_| match shown.get() {
        Screen::Chat(uid) => Some(uid),
        _ => None,
    });
    let invite = config.invite.clone();
    let api = config.api_base();
    // An invite link opens on the Friends tab.
    if invite.is_some() {
        screen.set(Screen::Friends);
    }
    // Unread peer messages and requests show in the browser tab's title too.
    Effect::new(move |_| {
        let news = chat.model.with(|m| m.peers.unread_total() + m.peers.list.incoming.len() as u64);
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            let title = service.get();
            document.set_title(&if news > 0 { format!("({news}) {title}") } else { title });
        }
    });

    view! {
        <div class="page user-page" data-screen=move || shown.get().to_param().unwrap_or_else(|| "support".into())>
            <Show when=move || friends_on.get()>
                <friends::Tabs chat screen />
            </Show>
            {move || if friends_side.get() {
                // The list stays mounted (hidden) under a conversation: opening one and going
                // back cost no rebuild of hundreds of rows, and the list keeps its scroll.
                view! {
                    <div class="friends-screen" hidden=move || peer.get().is_some()>
                        <friends::FriendsPanel chat screen invite=invite.clone() api=api.clone() />
                    </div>
                    {move || peer.get().map(|uid| view! { <friends::PeerView chat screen uid /> })}
                }.into_any()
            } else {
                view! { <SupportView chat service welcome agents status_detail retry older send typing agent_typing /> }.into_any()
            }}
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
