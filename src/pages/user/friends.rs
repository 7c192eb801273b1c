//! The Friends page (`/friends`, protocol v2): the friends list with requests, adding by id
//! or invite link, the blocked list, and a conversation with one friend. The state is the
//! page's model (`kefu_core::friends_chat`); frames go through the chat.

use kefu_core::config::{PageConfig, Screen};
use kefu_core::connection::Status;
use kefu_core::friends_chat::FriendsChat;
use kefu_core::peers::{display_name, initials};
use kefu_core::when;
use kefu_protocol::friends::{Friend, Person};
use kefu_protocol::v1::ClientMessage;
use leptos::prelude::*;

use crate::browser::address;
use crate::browser::chat::Chat;
use crate::browser::storage::local_time;
use crate::pages::shared::{Composer, MessageList, StatusIndicator};
use crate::pages::texts;

use super::{start_chat, title_with_news, Tabs, Visitor};

/// Sends a friend frame; says so when the link is down (nothing silently dropped).
fn ask(chat: Chat<FriendsChat>, frame: ClientMessage, offline: RwSignal<bool>) {
    let sent = chat.control_frame(frame);
    offline.set(!sent);
    if sent {
        chat.model.update(|m| m.peers.asked());
    }
}

/// The page, for [`super::UserGate`].
pub(crate) fn page(config: PageConfig, visitor: Visitor) -> AnyView {
    view! { <FriendsPage config visitor /> }.into_any()
}

/// The list (with requests, adding, the invite link and the blocked list) or a conversation,
/// as the address says (`?view=chat-UID`, pushed on every move so that the back gesture and a
/// reload work). Against a backend without friends it says so, under the tabs.
#[component]
fn FriendsPage(config: PageConfig, visitor: Visitor) -> impl IntoView {
    let texts = texts();
    let chat = start_chat(&config, &visitor, FriendsChat::new(visitor.uid));
    let screen = RwSignal::new(config.screen.on_friends_page());
    address::follow(screen);
    let peer = Memo::new(move |_| match screen.get() {
        Screen::Chat(uid) => kefu_protocol::ids::UserId::new(uid),
        _ => None,
    });
    // Memos: the screens below are rebuilt when the screen changes, not with every message.
    let friends_on = Memo::new(move |_| chat.model.with(|m| m.friends_on));
    let news = Signal::derive(move || chat.model.with(|m| m.peers.news()));
    title_with_news(Signal::derive(move || texts.friends.tab.to_owned()), news);
    let invite = config.invite.clone();
    let api = config.api_base();
    view! {
        <div class="page user-page" data-screen=move || if peer.get().is_some() { "chat" } else { "friends" }>
            <Tabs news screen />
            {move || if friends_on.get() {
                // The list stays mounted (hidden) under a conversation: opening one and going
                // back cost no rebuild of hundreds of rows, and the list keeps its scroll.
                view! {
                    <div class="friends-screen" hidden=move || peer.get().is_some()>
                        <FriendsPanel chat screen invite=invite.clone() api=api.clone() />
                    </div>
                    {move || peer.get().map(|uid| view! { <PeerView chat screen uid /> })}
                }.into_any()
            } else {
                view! { <NoFriendsYet chat /> }.into_any()
            }}
        </div>
    }
}

/// Before the friends list arrives: the connection's status; once the server is ready
/// without one (v1, the original backend), that it has no friends.
#[component]
fn NoFriendsYet(chat: Chat<FriendsChat>) -> impl IntoView {
    let texts = texts().friends;
    let unavailable = move || chat.link_state.get().0 == Status::Online;
    view! {
        <FriendsHeader chat />
        <Show when=unavailable>
            <p class="banner refused" role="alert" data-friends-unavailable="true">{texts.unavailable}</p>
        </Show>
        {move || chat.model.with(|m| m.notice.clone()).map(|notice| view! { <p class="banner" role="note">{notice}</p> })}
    }
}

/// The friends screen: an invite being opened, the last refusal, requests, the list, adding,
/// the invite link, the blocked list.
#[component]
pub(super) fn FriendsPanel(
    chat: Chat<FriendsChat>,
    screen: RwSignal<Screen>,
    invite: Option<String>,
    /// The backend's HTTP origin, which draws the invite link's QR code.
    api: String,
) -> impl IntoView {
    let texts = texts().friends;
    let offline = RwSignal::new(false);
    let query = RwSignal::new(String::new());
    let refusal = move || {
        if offline.get() {
            return Some(texts.not_connected.to_owned());
        }
        chat.model
            .with(|m| m.peers.refusal)
            .map(|code| texts.error(code).map_or_else(|| code.as_str().to_owned(), str::to_owned))
    };
    let friends = Memo::new(move |_| {
        chat.model.with(|m| m.peers.filtered(&query.get()).into_iter().cloned().collect::<Vec<Friend>>())
    });
    let incoming = move || chat.model.with(|m| m.peers.list.incoming.clone());
    let outgoing = move || chat.model.with(|m| m.peers.list.outgoing.clone());
    let blocked = move || chat.model.with(|m| m.peers.list.blocked.clone());
    let empty = move || chat.model.with(|m| m.peers.list.friends.is_empty());
    view! {
        <FriendsHeader chat />
        <section class="friends" aria-label=texts.tab>
            {invite.map(|token| view! { <InviteOffer chat token offline /> })}
            {move || refusal().map(|text| view! { <p class="banner refused" role="alert" data-friend-error="true">{text}</p> })}
            // Short lists, rebuilt whole when they change (a keyed list per kind would cost the
            // page more code than it saves work).
            {move || {
                let (incoming, outgoing) = (incoming(), outgoing());
                (!incoming.is_empty() || !outgoing.is_empty()).then(|| {
                    let count = incoming.len();
                    let rows = incoming
                        .into_iter()
                        .map(|request| view! { <PersonRow chat person=request.person note=request.note kind=RowKind::Incoming offline /> })
                        .chain(outgoing.into_iter().map(|request| view! { <PersonRow chat person=request.person note=String::new() kind=RowKind::Outgoing offline /> }))
                        .collect_view();
                    view! {
                        <h2 class="section-title">
                            {texts.requests}
                            <span class="unread" data-requests=count.to_string()>{count}</span>
                        </h2>
                        <ul class="requests">{rows}</ul>
                    }
                })
            }}
            <input class="filter" type="search" placeholder=texts_filter() aria-label=texts_filter()
                prop:value=move || query.get() on:input=move |ev| query.set(event_target_value(&ev)) />
            {move || empty().then(|| view! { <p class="placeholder">{texts.empty}</p> })}
            <ul class="friend-list">
                <For each=move || friends.get() key=|f| (f.person.uid, f.online, f.unread, f.last.as_ref().map(|m| m.seq))
                    children=move |friend| view! { <FriendRow friend screen /> } />
            </ul>
            <AddFriend chat offline />
            <InviteLink chat api offline />
            {move || {
                let blocked = blocked();
                (!blocked.is_empty()).then(|| {
                    let rows = blocked
                        .into_iter()
                        .map(|person| view! { <PersonRow chat person note=String::new() kind=RowKind::Blocked offline /> })
                        .collect_view();
                    view! {
                        <h2 class="section-title">{texts.blocked}</h2>
                        <ul class="blocked">{rows}</ul>
                    }
                })
            }}
        </section>
    }
}

fn texts_filter() -> &'static str {
    texts().filter
}

/// The Friends page's title and the connection's status.
#[component]
fn FriendsHeader(chat: Chat<FriendsChat>) -> impl IntoView {
    view! {
        <header class="bar">
            <div class="bar-text">
                <h1 class="title">{texts().friends.tab}</h1>
                <ConnectionStatus chat />
            </div>
        </header>
    }
}

/// The connection's status, as on the customer-service screen.
#[component]
fn ConnectionStatus(chat: Chat<FriendsChat>) -> impl IntoView {
    view! {
        <StatusIndicator
            status=Signal::derive(move || chat.link_state.get().0)
            label=Signal::derive(move || chat.status_label(None))
            detail=Signal::derive(move || chat.last_close.get())
        />
    }
}

/// An avatar: the picture the app gave, or initials.
#[component]
fn PersonAvatar(person: Person) -> impl IntoView {
    let name = display_name(&person.name, person.uid);
    if person.avatar.is_empty() {
        view! { <span class="avatar avatar-initial" aria-hidden="true">{initials(&name)}</span> }.into_any()
    } else {
        view! { <img class="avatar" src=person.avatar alt=name /> }.into_any()
    }
}

#[component]
fn FriendRow(friend: Friend, screen: RwSignal<Screen>) -> impl IntoView {
    let texts = texts();
    let uid = friend.person.uid;
    let name = display_name(&friend.person.name, uid);
    let presence = if friend.online { texts.user_online } else { texts.user_offline };
    let preview = friend.last.as_ref().map(|m| m.text.clone()).unwrap_or_default();
    let time = friend.last.as_ref().map(|m| m.create_time.clone()).unwrap_or_default();
    let relative = if time.is_empty() { String::new() } else { when::relative(&time, &local_time(), texts) };
    view! {
        <li>
            <button type="button" class="conversation-item" data-friend=uid.to_string()
                data-online=friend.online.to_string() on:click=move |_| address::go(screen, Screen::Chat(uid.get()))>
                <PersonAvatar person=friend.person.clone() />
                <span class="conversation-name" title=name.clone()>
                    <span class="presence" aria-label=presence title=presence></span>
                    {name.clone()}
                </span>
                <time class="conversation-time" title=time.clone() datetime=time>{relative}</time>
                <span class="conversation-preview">{preview}</span>
                {(friend.unread > 0).then(|| view! { <span class="unread" data-unread=friend.unread.to_string()>{friend.unread}</span> })}
            </button>
        </li>
    }
}

/// What a row of the requests or the blocked list is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RowKind {
    Incoming,
    Outgoing,
    Blocked,
}

/// A request to the person (accept, decline), theirs (withdraw), or someone blocked
/// (unblock): one view for the three, which keeps the page small.
#[component]
fn PersonRow(
    chat: Chat<FriendsChat>,
    person: Person,
    note: String,
    kind: RowKind,
    offline: RwSignal<bool>,
) -> impl IntoView {
    let texts = texts().friends;
    let uid = person.uid;
    let name = display_name(&person.name, uid);
    let (under, buttons) = match kind {
        RowKind::Incoming => (
            note,
            vec![
                ("accept", texts.accept, ClientMessage::Answer { uid, accept: true }),
                ("decline", texts.decline, ClientMessage::Answer { uid, accept: false }),
            ],
        ),
        RowKind::Outgoing => {
            (texts.waiting.to_owned(), vec![("withdraw", texts.withdraw, ClientMessage::Cancel { uid })])
        }
        RowKind::Blocked => (String::new(), vec![("unblock", texts.unblock, ClientMessage::Unblock { uid })]),
    };
    let marked = move |which: RowKind| (kind == which).then(|| uid.to_string());
    let buttons = buttons
        .into_iter()
        .map(|(class, label, frame)| {
            view! { <button type="button" class=class on:click=move |_| ask(chat, frame.clone(), offline)>{label}</button> }
        })
        .collect_view();
    view! {
        <li class="request" data-incoming=marked(RowKind::Incoming) data-outgoing=marked(RowKind::Outgoing)
            data-blocked=marked(RowKind::Blocked)>
            <PersonAvatar person />
            <span class="request-text">
                <span class="conversation-name">{name}" · #"{uid.get()}</span>
                // A note is shown whole, wrapped (at most 100 characters).
                <span class="request-note">{under}</span>
            </span>
            {buttons}
        </li>
    }
}

/// Adding by user id, with an optional note.
#[component]
fn AddFriend(chat: Chat<FriendsChat>, offline: RwSignal<bool>) -> impl IntoView {
    let texts = texts().friends;
    let id = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let error = RwSignal::new(None::<&'static str>);
    let my_id = chat.model.with_untracked(|m| m.uid).to_string();
    let copied = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(uid) = id.get_untracked().trim().parse::<kefu_protocol::ids::UserId>().ok() else {
            error.set(Some(texts.bad_id));
            return;
        };
        let text = note.get_untracked().trim().to_owned();
        if !kefu_protocol::friends::valid_note(&text) {
            error.set(Some(texts.note_too_long));
            return;
        }
        error.set(None);
        ask(chat, ClientMessage::Befriend { uid, note: text, invite: None }, offline);
        id.set(String::new());
        note.set(String::new());
    };
    view! {
        <form class="add-friend" on:submit=submit>
            <h2 class="section-title">{texts.add}</h2>
            <input name="uid" inputmode="numeric" placeholder=texts.their_id aria-label=texts.their_id
                prop:value=move || id.get() on:input=move |ev| id.set(event_target_value(&ev)) />
            <input name="note" maxlength="100" placeholder=texts.note aria-label=texts.note
                prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev)) />
            <button type="submit">{texts.send_request}</button>
            {move || error.get().map(|e| view! { <p class="composer-error" role="alert">{e}</p> })}
            // One's own id, for the other to add: "Add a friend" asks for theirs.
            <p class="hint my-id" data-my-id=my_id.clone()>
                {texts.my_id}": "<strong>{my_id.clone()}</strong>" "
                <button type="button" on:click={
                    let my_id = my_id.clone();
                    move |_| {
                        address::copy(&my_id);
                        copied.set(true);
                    }
                }>{move || if copied.get() { texts.copied } else { texts.copy }}</button>
            </p>
        </form>
    }
}

/// The person's own invite link, to copy.
#[component]
fn InviteLink(chat: Chat<FriendsChat>, api: String, offline: RwSignal<bool>) -> impl IntoView {
    let texts = texts().friends;
    let link = Memo::new(move |_| {
        let token = chat.model.with(|m| m.peers.list.invite.clone());
        if token.is_empty() {
            String::new()
        } else {
            address::invite_link(&token)
        }
    });
    let copied = RwSignal::new(false);
    // The same link as a QR code, for a phone beside this one (drawn by the server).
    let qr = move || {
        let link = link.get();
        (!link.is_empty()).then(|| {
            let src =
                format!("{api}{}?text={}", kefu_protocol::api::QR_PATH, js_sys::encode_uri_component(&link));
            view! { <img class="qr" src=src alt=texts.invite_link data-qr="true" /> }
        })
    };
    view! {
        <div class="invite">
            <h2 class="section-title">{texts.invite_link}</h2>
            <p class="hint">{texts.invite_hint}</p>
            {qr}
            <input class="invite-link" readonly=true aria-label=texts.invite_link prop:value=move || link.get() />
            <button type="button" on:click=move |_| {
                address::copy(&link.get_untracked());
                copied.set(true);
            }>{move || if copied.get() { texts.copied } else { texts.copy }}</button>
            // The old link stops working: the server sends the list with the new one.
            <button type="button" class="new-invite" on:click=move |_| {
                copied.set(false);
                ask(chat, ClientMessage::NewInvite, offline);
            }>{texts.new_link}</button>
        </div>
    }
}

/// An invite link being opened: who invites, and a button to accept.
#[component]
fn InviteOffer(chat: Chat<FriendsChat>, token: String, offline: RwSignal<bool>) -> impl IntoView {
    let texts = texts().friends;
    let Some((uid, name)) = address::inviter(&token) else {
        return view! { <p class="banner refused" role="alert">{texts.bad_invite}</p> }.into_any();
    };
    let me = chat.model.with_untracked(|m| m.uid);
    let answered = RwSignal::new(false);
    let already = move || chat.model.with(|m| m.peers.friend_by_uid(uid).is_some());
    let shown = move || uid.get() != me && !answered.get() && !already();
    let accept = move |_| {
        ask(chat, ClientMessage::Befriend { uid, note: String::new(), invite: Some(token.clone()) }, offline);
        answered.set(true);
        address::forget_invite();
    };
    view! {
        <Show when=shown>
            <div class="banner invite-offer" role="note" data-inviter=uid.to_string()>
                <span>{display_name(&name, uid)}" "{texts.invited_by}</span>
                <button type="button" on:click=accept.clone()>{texts.add_inviter}</button>
            </div>
        </Show>
    }
    .into_any()
}

/// The conversation with friend `uid`: back, who and whether online, messages, composer,
/// and removing or blocking them.
#[component]
pub(super) fn PeerView(
    chat: Chat<FriendsChat>,
    screen: RwSignal<Screen>,
    uid: kefu_protocol::ids::UserId,
) -> impl IntoView {
    let texts = texts();
    let offline = RwSignal::new(false);
    let friend = Memo::new(move |_| chat.model.with(|m| m.peers.friend_by_uid(uid).cloned()));
    // A friend, or a former one (removed, blocked, blocking): the conversation stays readable.
    let known = Memo::new(move |_| chat.model.with(|m| m.peers.known(uid)));
    let conversation = Memo::new(move |_| known.get().map(|(_, conversation)| conversation));
    // Remove or Block, asked for and waiting for the person's confirmation.
    let confirming = RwSignal::new(None::<ClientMessage>);
    // Looking at it: its messages are read (while the page is in view), and it is loaded.
    Effect::new(move |_| {
        let Some(conversation) = conversation.get() else { return };
        chat.model.update(|m| m.open_peer = Some(conversation));
        // Not loaded yet (never opened, or only live messages so far): its latest page.
        if chat.model.with_untracked(|m| m.peers.chats.get(&conversation).is_none_or(|c| !c.loaded)) {
            chat.older(conversation);
        }
    });
    on_cleanup(move || chat.model.update(|m| m.open_peer = None));
    Effect::new(move |_| {
        chat.clock.track();
        let Some(conversation) = conversation.get() else { return };
        let seen = chat.model.try_update(|m| m.peers.seen(conversation)).flatten();
        chat.seen(Some(conversation), seen);
    });
    let entries = Signal::derive(move || {
        let Some(conversation) = conversation.get() else { return vec![] };
        chat.model.with(|m| {
            m.peers.chats.get(&conversation).map(|c| c.timeline.entries.clone()).unwrap_or_default()
        })
    });
    let typing = move || {
        let until = conversation
            .get()
            .and_then(|c| chat.model.with(|m| m.peers.chats.get(&c).and_then(|c| c.typing_until)));
        chat.showing(until)
    };
    // Only a friend can be written to; the draft stays in the composer otherwise.
    let send =
        Callback::new(move |text: String| match (conversation.get_untracked(), friend.get_untracked()) {
            (Some(conversation), Some(_)) => chat.compose(Some(conversation), text),
            _ => Err(texts.friends.not_friends.to_owned()),
        });
    let retry = Callback::new(move |entry: u64| chat.retry(entry));
    let older = Callback::new(move |()| {
        if let Some(conversation) = conversation.get_untracked() {
            chat.older(conversation);
        }
    });
    let on_typing = Callback::new(move |()| chat.typing(conversation.get_untracked()));
    let name = move || {
        known.get().map(|(person, _)| display_name(&person.name, uid)).unwrap_or_else(|| format!("#{uid}"))
    };
    let online = move || friend.get().is_some_and(|f| f.online);
    view! {
        <header class="bar peer-bar" data-peer=uid.to_string()>
            <button type="button" class="back" aria-label=texts.friends.back on:click=move |_| {
                match web_sys::window().and_then(|w| w.history().ok()) {
                    // Back to the list the way the browser's back gesture goes.
                    Some(history) if history.length().unwrap_or(0) > 1 => { let _ = history.back(); }
                    _ => address::go(screen, Screen::Friends),
                }
            }>"‹"</button>
            {move || known.get().map(|(person, _)| view! { <PersonAvatar person /> })}
            <div class="bar-text">
                <h1 class="title">{name}</h1>
                <p class="friend-status" data-online=move || online().to_string()>
                    <span class="presence" aria-hidden="true"></span>
                    {move || if online() { texts.user_online } else { texts.user_offline }}
                </p>
            </div>
            // Remove and Block, where destructive actions go: a menu, then a confirmation.
            <Show when=move || friend.get().is_some()>
                <details class="peer-menu">
                    <summary aria-label=texts.friends.more title=texts.friends.more>"⋯"</summary>
                    <div class="peer-menu-items">
                        <button type="button" class="remove-friend"
                            on:click=move |_| confirming.set(Some(ClientMessage::Unfriend { uid }))>{texts.friends.remove}</button>
                        <button type="button" class="block"
                            on:click=move |_| confirming.set(Some(ClientMessage::Block { uid }))>{texts.friends.block}</button>
                    </div>
                </details>
            </Show>
        </header>
        {move || confirming.get().map(|frame| {
            let (question, yes) = match frame {
                ClientMessage::Block { .. } => (texts.friends.confirm_block, texts.friends.block),
                _ => (texts.friends.confirm_remove, texts.friends.remove),
            };
            view! {
                <div class="confirm" role="alertdialog" aria-label=question>
                    <p>{question}</p>
                    <button type="button" class="confirm-yes" on:click=move |_| {
                        if let Some(frame) = confirming.get_untracked() {
                            ask(chat, frame, offline);
                            address::go(screen, Screen::Friends);
                        }
                        confirming.set(None);
                    }>{yes}</button>
                    <button type="button" class="confirm-no" on:click=move |_| confirming.set(None)>{texts.friends.cancel}</button>
                </div>
            }
        })}
        // The connection's own status whenever it is not simply online.
        <Show when=move || chat.link_state.get().0 != Status::Online>
            <div class="connection-line"><ConnectionStatus chat /></div>
        </Show>
        <Show when=move || friend.get().is_none()>
            <p class="banner refused" role="alert">{texts.friends.not_friends}</p>
        </Show>
        <MessageList entries on_retry=retry on_top=older />
        <Show when=move || entries.with(Vec::is_empty) && known.get().is_some()>
            <p class="placeholder">{texts.friends.no_messages}</p>
        </Show>
        <Show when=typing>
            <p class="typing" data-typing="friend" aria-live="polite">{texts.user_typing}</p>
        </Show>
        // Kept when the friendship ends: the draft stays, sending says why it cannot.
        <Show when=move || known.get().is_some()>
            <Composer on_send=send on_typing=on_typing />
        </Show>
    }
}
