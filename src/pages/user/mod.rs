//! The user's two pages: customer service (`/`, [`support`]) and, with a v2 server, friends
//! and their conversations (`/friends`, [`friends`]). Each is its own wasm binary, so the
//! customer-service page does not carry the Friends screens; tabs link one to the other.
//! [`UserGate`] first settles who the visitor is, for either page: the app's user
//! (`?uid=&token=`), a given id (`?uid=`), or a guest identity from the server (kept across
//! reloads).

pub(crate) mod friends;
pub(crate) mod support;

use kefu_core::config::{tab_link, PageConfig, Screen};
use kefu_core::connection::Status;
use kefu_core::courier::Model;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser::identity;
use crate::browser::storage::Key;
use crate::browser::{address, chat::Chat};
use crate::pages::shared::{Avatar, StatusIndicator};
use crate::pages::texts;

/// Who the page speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Visitor {
    pub(crate) uid: i64,
    pub(crate) token: Option<String>,
    /// A guest identity kept from an earlier visit (replaced if the server refuses it).
    pub(crate) kept_guest: bool,
}

/// A user page, once the visitor is known.
pub(crate) type UserPage = fn(PageConfig, Visitor) -> AnyView;

/// Settles the visitor, then shows `page` (shown `title` meanwhile).
#[component]
pub(crate) fn UserGate(config: PageConfig, page: UserPage, title: &'static str) -> impl IntoView {
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
        Some(visitor) => page(config.clone(), visitor),
        None => view! { <Connecting title /> }.into_any(),
    }
}

/// The page's frame while the visitor's identity is being settled.
#[component]
fn Connecting(title: &'static str) -> impl IntoView {
    let texts = texts();
    view! {
        <div class="page user-page">
            <header class="bar">
                <Avatar url=String::new() name=title.to_owned() />
                <div class="bar-text">
                    <h1 class="title">{title}</h1>
                    <StatusIndicator
                        status=Signal::derive(|| Status::Connecting)
                        label=Signal::derive(move || texts.connecting.to_owned())
                    />
                </div>
            </header>
        </div>
    }
}

/// Connects `visitor` to the backend with the page's `model`, with the visitor's outbox (one
/// for both pages: a message queued on one is sent from either).
pub(crate) fn start_chat<M: Model + Send + Sync + 'static>(
    config: &PageConfig,
    visitor: &Visitor,
    model: M,
) -> Chat<M> {
    let uid = visitor.uid;
    let outbox = Key::UserOutbox { server: config.server.clone(), uid };
    let url = kefu_protocol::endpoint_url_with_token(&config.server, uid, visitor.token.as_deref());
    let chat = Chat::start(url, config.timing, outbox, model, texts());
    renew_refused_guest(chat, visitor, config);
    chat
}

/// A kept guest identity the server no longer accepts (its key changed): start afresh.
fn renew_refused_guest<M: Send + Sync + 'static>(chat: Chat<M>, visitor: &Visitor, config: &PageConfig) {
    if !visitor.kept_guest {
        return;
    }
    let (uid, config) = (visitor.uid, config.clone());
    Effect::new(move |_| {
        if let Some(reason) = chat.refused.get() {
            identity::forget_guest(&config);
            identity::remember_previous_guest(uid);
            identity::restart_with(&reason);
        }
    });
}

/// Keeps the browser tab's title: `title`, after the count of what is new with friends.
pub(crate) fn title_with_news(title: Signal<String>, news: Signal<u64>) {
    Effect::new(move |_| {
        let (news, title) = (news.get(), title.get());
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            document.set_title(&if news > 0 { format!("({news}) {title}") } else { title });
        }
    });
}

/// 客服 / 好友: links between the two pages (the same visitor, backend and language). The
/// Friends tab carries what is new there. On the Friends page (`screen`), it goes back to the
/// list without leaving the page.
#[component]
pub(crate) fn Tabs(news: Signal<u64>, #[prop(optional)] screen: Option<RwSignal<Screen>>) -> impl IntoView {
    let texts = texts();
    let search = address::search();
    let on_friends = screen.is_some();
    let to_list = move |ev: leptos::ev::MouseEvent| {
        if let Some(screen) = screen {
            ev.prevent_default();
            address::go(screen, Screen::Friends);
        }
    };
    view! {
        <nav class="tabs" role="tablist" aria-label=texts.friends.tabs_label>
            <a role="tab" data-tab="support" href=tab_link(&search, false) aria-selected=(!on_friends).to_string()>
                {texts.service}
            </a>
            <a role="tab" data-tab="friends" href=tab_link(&search, true) aria-selected=on_friends.to_string()
                on:click=to_list>
                {texts.friends.tab}
                <Show when=move || news.get() != 0>
                    <span class="unread" data-unread=move || news.get().to_string()>{news}</span>
                </Show>
            </a>
        </nav>
    }
}
