//! The team's canned replies, managed in the console: add, edit, delete. Stored on the server
//! (the same on every instance); every console's list and picker follow each change.

use kefu_core::inbox::Inbox;
use kefu_protocol::team::Canned;
use kefu_protocol::v1::ClientMessage;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::team::{send, team_texts, Desk};
use crate::browser::chat::Chat;
use crate::browser::lowercase;

#[component]
pub(super) fn CannedManager(chat: Chat<Inbox>, desk: Desk) -> impl IntoView {
    let t = team_texts();
    let inbox = chat.model;
    // The reply being edited (`None`: a new one).
    let editing = RwSignal::new(None::<i64>);
    let shortcut = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    let clear = move || {
        editing.set(None);
        shortcut.set(String::new());
        text.set(String::new());
    };
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        let frame = ClientMessage::SaveCanned {
            id: editing.get_untracked(),
            shortcut: lowercase(shortcut.get_untracked().trim().trim_start_matches('/')),
            text: text.get_untracked(),
        };
        if send(chat, frame) {
            clear();
        }
    };
    let toggle = move || {
        inbox.with(|i| i.team.enabled).then(|| {
            view! {
                <button type="button" class="canned-toggle" aria-expanded=desk.canned.get().to_string()
                    on:click=move |_| desk.canned.update(|open| *open = !*open)>
                    {t.canned}
                </button>
            }
        })
    };
    // Drawn whole (one reactive closure keeps the console small); the fields keep their
    // values in signals, so a redraw (another console's change) loses no typing.
    let manager = move || {
        if !desk.canned.get() {
            return None;
        }
        editing.track();
        let replies = inbox.with(|i| i.team.canned.clone());
        let items = replies
            .into_iter()
            .map(|reply| {
                let Canned { id, shortcut: short, text: long } = reply;
                let (edit_short, edit_long, key) = (short.clone(), long.clone(), short.clone());
                view! {
                    <li class="canned-item" data-shortcut=key>
                        <strong>"/"{short}</strong>" "<span>{long}</span>
                        <button type="button" class="canned-edit" on:click=move |_| {
                            shortcut.set(edit_short.clone());
                            text.set(edit_long.clone());
                            editing.set(Some(id));
                        }>{t.edit}</button>
                        <button type="button" class="canned-delete" on:click=move |_| {
                            send(chat, ClientMessage::DeleteCanned { id });
                        }>{t.delete}</button>
                    </li>
                }
            })
            .collect_view();
        Some(view! {
            <section class="canned-manager" aria-labelledby="canned-title">
                <h2 id="canned-title">{t.canned}</h2>
                <p class="hint">{t.canned_hint}</p>
                <ul class="canned-list">{items}</ul>
                <form class="canned-form" on:submit=save>
                    <label>{t.shortcut}
                        <input class="canned-shortcut" required maxlength="32" value=shortcut.get_untracked()
                            on:input=move |ev| shortcut.set(event_target_value(&ev)) />
                    </label>
                    <label>{t.canned_text}
                        <textarea class="canned-text" required rows="2"
                            on:input=move |ev| text.set(event_target_value(&ev))>{text.get_untracked()}</textarea>
                    </label>
                    <button type="submit" class="canned-save">{t.save}</button>
                    <button type="button" class="canned-cancel" on:click=move |_| { clear(); desk.canned.set(false) }>{t.close}</button>
                </form>
            </section>
        })
    };
    view! { {toggle} {manager} }
}
