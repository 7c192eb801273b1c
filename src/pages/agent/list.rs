//! The console's conversation list: one row per user, most recent first, with presence,
//! unread count, the latest message with a short relative time ("5 min"), a typing hint, and
//! a filter by name. Windowed: only the rows on screen (and a few around them) are in the
//! page, so a view of 10,000 conversations switches as fast as one of 30
//! (`kefu_core::window`); the selection is scrolled into view when it moves (j/k).

use kefu_core::inbox::Inbox;
use kefu_core::team::View;
use kefu_core::when;
use kefu_core::window::Viewport;
use kefu_protocol::v1::ConversationId;
use leptos::html::Div;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::team::{order, shown_ids};
use crate::browser::storage::local_time;
use crate::pages::shared::Avatar;
use crate::pages::texts;

/// A row's height until one is measured (px): about right, so the first window is too.
const ROW_GUESS: f64 = 66.0;

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
    let filter = desk.filter;
    // Relative times change by the minute, not with every tick of the clock.
    let minute = Memo::new(move |_| clock.get() / 60_000);
    let scroller: NodeRef<Div> = NodeRef::new();
    let viewport = RwSignal::new(Viewport { row: ROW_GUESS, top: 0.0, height: 800.0, screen: 800.0 });
    // Every conversation in order, sorted when the inbox changes (not when the view does);
    // the view's rows as ids, one pass over them.
    let order = Memo::new(move |_| inbox.with(order));
    let ids = Memo::new(move |_| {
        let view = desk.view.get();
        order.with(|order| filter.with(|filter| inbox.with(|inbox| shown_ids(inbox, order, view, filter))))
    });
    // The rows to build: changes only when a row enters or leaves the screen, or the view's
    // rows change. (What the rows read goes through this one memo, not also through `ids`: a
    // reader of two memos where one feeds the other is not always told of a change.)
    let built = Memo::new(move |_| {
        ids.with(|ids| {
            let range = viewport.with(|v| v.rows(ids.len()));
            (range.start, ids.len(), ids[range].to_vec())
        })
    });
    // Not tied to the clock: rows are rebuilt when the inbox changes or a row enters or
    // leaves the screen, not twice a second.
    let rows = move || {
        built.with(|(start, count, shown)| {
            inbox.with(|inbox| {
                let selected = inbox.selected_id();
                let team = inbox.team.enabled;
                shown
                    .iter()
                    .zip(start + 1..)
                    .filter_map(|(uid, position)| {
                        let c = inbox.conversation(*uid)?;
                        let preview =
                            c.preview().map(|e| (e.text.clone(), e.time.clone())).unwrap_or_default();
                        Some(Row {
                            uid: c.uid,
                            position,
                            count: *count,
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
                        })
                    })
                    .collect::<Vec<_>>()
            })
        })
    };
    // Reads where the list is scrolled, how much of it can show and how tall a row is.
    let measure = move || {
        let Some(element) = scroller.get_untracked() else { return };
        // The rows built, on average (a long name wraps and makes its row taller): from the
        // first row's top to the last one's, whole pixels over some 30 rows.
        let rows = element.first_element_child().and_then(|list| {
            let first = list.first_element_child()?.dyn_into::<web_sys::HtmlElement>().ok()?;
            let last = list.last_element_child()?.dyn_into::<web_sys::HtmlElement>().ok()?;
            let count = f64::from(list.child_element_count());
            Some(if count > 1.0 {
                f64::from(last.offset_top() - first.offset_top()) / (count - 1.0)
            } else {
                f64::from(first.offset_height())
            })
        });
        let row = rows.filter(|height| *height > 0.0);
        let now = Viewport {
            row: row.unwrap_or_else(|| viewport.with_untracked(|v| v.row)),
            top: f64::from(element.scroll_top()),
            height: f64::from(element.client_height()),
            // A window made taller shows rows already built, without a resize listener.
            screen: window().inner_height().ok().and_then(|h| h.as_f64()).unwrap_or(800.0),
        };
        if viewport.with_untracked(|v| *v != now) {
            viewport.set(now);
        }
    };
    // After every change of the rows or the scroll: the rows not built are stood in for by
    // padding (set here, not with `style:`, which would bring its machinery into the page
    // for this one use), measured once drawn. And when the selection moved (j/k) or the view
    // or filter changed: the selection is kept on screen, or a new view starts at its top.
    Effect::new(move |before: Option<Option<(Option<ConversationId>, View, String)>>| {
        let (above, below) = built.with(|(start, count, shown)| {
            viewport.with(|v| v.padding(&(*start..start + shown.len()), *count))
        });
        let element = scroller.get()?;
        // Whole pixels: formatting a float would add 10 KB to the page.
        let style =
            format!("padding-top:{}px;padding-bottom:{}px", above.round() as u64, below.round() as u64);
        if let Some(list) = element.first_element_child() {
            let _ = list.set_attribute("style", &style);
        }
        request_animation_frame(measure);
        let now = (inbox.with(Inbox::selected_id), desk.view.get(), filter.get());
        if let Some(before) = before.flatten().filter(|before| *before != now) {
            let index = now.0.and_then(|uid| ids.with_untracked(|ids| ids.iter().position(|c| *c == uid)));
            let top = match index {
                Some(index) => viewport.with_untracked(|v| v.scroll_to_show(index)),
                None if (before.1, &before.2) != (now.1, &now.2) => Some(0.0),
                None => None,
            };
            if let Some(top) = top {
                element.set_scroll_top(top.round() as i32);
                measure();
            }
        }
        Some(now)
    });
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
            <Show when=move || order.with(Vec::is_empty)>
                <p class="placeholder">{texts.no_conversations}</p>
            </Show>
            <div class="conversation-scroll" node_ref=scroller on:scroll=move |_| measure()>
                <ul>
                    <For each=rows key=|row| row.clone() children=move |row| view! { <ConversationRow row inbox clock minute /> } />
                </ul>
            </div>
        </nav>
    }
}

/// What one line of the conversation list shows.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Row {
    uid: kefu_protocol::v1::ConversationId,
    /// Its place in the view (from 1) and the view's size: a windowed list tells assistive
    /// technology what the page does not hold.
    position: usize,
    count: usize,
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
        <li aria-setsize=row.count.to_string() aria-posinset=row.position.to_string()>
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
