//! The console's conversation list: one row per user, most recent first, with presence,
//! unread count, the latest message with a short relative time ("5 min"), a typing hint, and
//! a filter by name.

use kefu_core::inbox::Inbox;
use kefu_core::when;
use leptos::prelude::*;

use crate::browser::storage::local_time;
use crate::pages::shared::Avatar;
use crate::pages::texts;

#[component]
pub(super) fn ConversationList(
    inbox: RwSignal<Inbox>,
    clock: RwSignal<u64>,
    /// Whether the backend says who is online (the original does not).
    presence_known: Signal<bool>,
    desk: super::team::Desk,
) -> impl IntoView {
    let texts = texts();
    let t = super::team::team_texts();
    let filter = RwSignal::new(String::new());
    // Relative times change by the minute, not with every tick of the clock.
    let minute = Memo::new(move |_| clock.get() / 60_000);
    // Not tied to the clock: the list is rebuilt when the inbox changes, not twice a second.
    let rows = move || {
        let filter = filter.get();
        let view = desk.view.get();
        inbox.with(|inbox| {
            let selected = inbox.selected().map(|c| c.uid);
            let team = inbox.team.enabled;
            inbox
                .filtered(&filter)
                .into_iter()
                .filter(|c| inbox.team.in_view(view, c.uid))
                .map(|c| {
                    let preview = c.preview().map(|e| (e.text.clone(), e.time.clone())).unwrap_or_default();
                    Row {
                        uid: c.uid,
                        name: c.username.clone(),
                        avatar: c.avatar.clone(),
                        unread: c.unread,
                        online: c.online,
                        typing_until: c.typing_until,
                        preview: preview.0,
                        time: preview.1,
                        selected: selected == Some(c.uid),
                        presence_known: presence_known.get(),
                        assignee: team.then(|| {
                            inbox.team.state(c.uid).assignee.unwrap_or_else(|| t.unassigned.to_owned())
                        }),
                    }
                })
                .collect::<Vec<_>>()
        })
    };
    view! {
        <nav class="conversations" aria-label=texts.conversations>
            <super::team::ViewTabs inbox desk />
            <input
                class="conversation-filter"
                type="search"
                aria-label=texts.filter
                placeholder=texts.filter
                prop:value=move || filter.get()
                on:input=move |ev| filter.set(event_target_value(&ev))
            />
            <Show when=move || inbox.with(|inbox| inbox.conversations().is_empty())>
                <p class="placeholder">{texts.no_conversations}</p>
            </Show>
            <ul>
                <For each=rows key=|row| row.clone() children=move |row| view! { <ConversationRow row inbox clock minute /> } />
            </ul>
        </nav>
    }
}

/// What one line of the conversation list shows.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Row {
    uid: kefu_protocol::v1::ConversationId,
    name: String,
    avatar: String,
    unread: usize,
    online: bool,
    /// Until when (ms) the user shows as typing.
    typing_until: Option<u64>,
    preview: String,
    time: String,
    selected: bool,
    presence_known: bool,
    /// Who has it (with a team inbox).
    assignee: Option<String>,
}

#[component]
fn ConversationRow(
    row: Row,
    inbox: RwSignal<Inbox>,
    clock: RwSignal<u64>,
    minute: Memo<u64>,
) -> impl IntoView {
    let texts = texts();
    let uid = row.uid;
    let presence = if row.online { texts.user_online } else { texts.user_offline };
    // Only a row with someone typing follows the clock (to clear it on time).
    let until = row.typing_until;
    let typing = move || until.is_some_and(|until| clock.get() < until);
    let preview = row.preview;
    let name = row.name.clone();
    let time = row.time.clone();
    let relative = move || {
        minute.track();
        when::relative(&time, &local_time(), texts)
    };
    view! {
        <li>
            <button
                type="button"
                class="conversation-item"
                data-uid=uid.to_string()
                data-online=row.presence_known.then(|| row.online.to_string())
                data-typing=move || typing().to_string()
                aria-current=row.selected.then_some("true")
                on:click=move |_| {
                    inbox.update(|inbox| {
                        inbox.select(uid);
                    })
                }
            >
                <Avatar url=row.avatar name=row.name.clone() />
                <span class="conversation-name" title=name>
                    {row.presence_known.then(|| view! { <span class="presence" aria-label=presence title=presence></span> })}
                    {row.name}
                </span>
                <time class="conversation-time" title=row.time.clone() datetime=row.time.clone()>
                    {relative}
                </time>
                {row.assignee.clone().map(|who| {
                    let shown = who.clone();
                    view! { <span class="conversation-assignee" data-assignee=who>{shown}</span> }
                })}
                <span class="conversation-preview">
                    {move || if typing() { texts.user_typing.to_owned() } else { preview.clone() }}
                </span>
                {(row.unread > 0)
                    .then(|| {
                        view! { <span class="unread" data-unread=row.unread.to_string()>{row.unread}</span> }
                    })}
            </button>
        </li>
    }
}
