//! The team's canned replies, managed in the console: add, edit, delete. Stored on the server
//! (the same on every instance); every console's list and picker follow each change.

use kefu_core::inbox::Inbox;
use kefu_protocol::v1::ClientMessage;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::team::{team_texts, Desk};
use crate::browser::chat::Chat;
use crate::pages::texts;

#[component]
pub(super) fn CannedManager(chat: Chat<Inbox>, desk: Desk) -> impl IntoView {
    let t = team_texts();
    let inbox = chat.model;
    // The reply being edited (`None`: a new one).
    let editing = RwSignal::new(None::<i64>);
    let shortcut = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    let offline = RwSignal::new(false);
    let clear = move || {
        editing.set(None);
        shortcut.set(String::new());
        text.set(String::new());
    };
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        let frame = ClientMessage::SaveCanned {
            id: editing.get_untracked(),
            shortcut: shortcut.get_untracked().trim().trim_start_matches('/').to_lowercase(),
            text: text.get_untracked(),
        };
        let sent = chat.control_frame(frame);
        offline.set(!sent);
        if sent {
            clear();
        }
    };
    view! {
        <Show when=move || inbox.with(|i| i.team.enabled)>
            <button type="button" class="canned-toggle" aria-expanded=move || desk.canned.get().to_string()
                on:click=move |_| desk.canned.update(|open| *open = !*open)>
                {t.canned}
            </button>
        </Show>
        <Show when=move || desk.canned.get()>
            <section class="canned-manager" aria-labelledby="canned-title">
                <h2 id="canned-title">{t.canned_manage}</h2>
                <p class="hint">{t.canned_hint}</p>
                <ul class="canned-list">
                    {move || inbox.with(|i| i.team.canned.clone()).into_iter().map(|reply| {
                        let (id, edit_shortcut, edit_text) = (reply.id, reply.shortcut.clone(), reply.text.clone());
                        view! {
                            <li class="canned-item" data-shortcut=reply.shortcut.clone()>
                                <strong>"/"{reply.shortcut.clone()}</strong>" "<span>{reply.text.clone()}</span>
                                <button type="button" class="canned-edit" on:click=move |_| {
                                    editing.set(Some(id));
                                    shortcut.set(edit_shortcut.clone());
                                    text.set(edit_text.clone());
                                }>{t.edit}</button>
                                <button type="button" class="canned-delete" on:click=move |_| {
                                    offline.set(!chat.control_frame(ClientMessage::DeleteCanned { id }));
                                }>{t.delete}</button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
                <form class="canned-form" on:submit=save>
                    <label>{t.shortcut}
                        <input class="canned-shortcut" required maxlength="32" prop:value=move || shortcut.get()
                            on:input=move |ev| shortcut.set(event_target_value(&ev)) />
                    </label>
                    <label>{t.canned_text}
                        <textarea class="canned-text" required rows="2" prop:value=move || text.get()
                            on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                    </label>
                    <button type="submit" class="canned-save">{t.save}</button>
                    <button type="button" class="canned-cancel" on:click=move |_| { clear(); desk.canned.set(false) }>{t.close}</button>
                    <Show when=move || offline.get()>
                        <p class="composer-error" role="alert">{texts().offline}</p>
                    </Show>
                </form>
            </section>
        </Show>
    }
}
