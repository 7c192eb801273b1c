//! The console's composer: a reply to the user, or (with a team inbox) a private note, seen
//! by agents only; typing `/` opens the canned replies, filtered as the shortcut is typed, and
//! Enter (or a click) puts the chosen one's text in the draft, `{name}` filled, for editing —
//! it never sends by itself.

use kefu_core::inbox::Inbox;
use kefu_core::team::{canned_query, fill};
use kefu_protocol::team::Canned;
use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::prelude::*;

use super::team::team_texts;
use crate::browser::chat::Chat;
use crate::browser::lowercase;
use crate::browser::storage::now_ms;
use crate::pages::texts;

#[component]
pub(super) fn TeamComposer(chat: Chat<Inbox>) -> impl IntoView {
    let texts = texts();
    let t = team_texts();
    let inbox = chat.model;
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let noting = RwSignal::new(false);
    let team = move || inbox.with(|i| i.team.enabled);
    let matches = Memo::new(move |_| {
        let draft = draft.get();
        let query = canned_query(&draft)?;
        inbox.with(|i| {
            i.team.enabled.then(|| {
                i.team.canned_matching(query, lowercase).into_iter().cloned().collect::<Vec<Canned>>()
            })
        })
    });
    let insert = move |reply: &Canned| {
        let name = inbox.with_untracked(|i| i.selected().map(|c| c.username.clone()).unwrap_or_default());
        draft.set(fill(&reply.text, &name));
    };
    let send = move || {
        let text = draft.get_untracked();
        let Some(conversation) = inbox.with_untracked(Inbox::selected_id) else {
            return error.set(Some(texts.pick_conversation.to_owned()));
        };
        let sent = if noting.get_untracked() && team() {
            texts.check_text(&text).map(|()| {
                let frame =
                    inbox.try_update(|i| i.team.note(conversation, &text, now_ms())).expect("the inbox");
                // Not sent now (offline): it waits, shown as sending, and goes at the next link.
                chat.control_frame(frame);
            })
        } else {
            chat.compose(Some(conversation), text)
        };
        match sent {
            Ok(()) => {
                draft.set(String::new());
                error.set(None);
            }
            Err(message) => error.set(Some(message)),
        }
    };
    let keydown = move |ev: KeyboardEvent| {
        // With the picker open, Enter (or Tab) inserts its first reply, Esc clears the draft.
        if let Some(first) = matches.get_untracked().and_then(|m| m.into_iter().next()) {
            match ev.key().as_str() {
                "Enter" | "Tab" => insert(&first),
                "Escape" => draft.set(String::new()),
                _ => return,
            }
            ev.prevent_default();
            return;
        }
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            send();
        }
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        send();
    };
    let typing = move || {
        if !noting.get_untracked() {
            if let Some(conversation) = inbox.with_untracked(Inbox::selected_id) {
                chat.typing(Some(conversation));
            }
        }
    };
    // The mode switch and the row are drawn whole when the mode changes (a few reactive
    // closures instead of one per attribute keep the console small).
    let mode = move || {
        team().then(|| {
            let on = noting.get();
            view! {
                <div class="composer-mode" role="radiogroup" aria-label=t.composer_mode>
                    <button type="button" role="radio" class="mode-reply" aria-checked=(!on).to_string() on:click=move |_| noting.set(false)>{t.reply}</button>
                    <button type="button" role="radio" class="mode-note" aria-checked=on.to_string() on:click=move |_| noting.set(true)>{t.note}</button>
                </div>
            }
        })
    };
    let picker = move || {
        matches.get().map(|found| {
            let options = found
                .into_iter()
                .map(|reply| {
                    let Canned { shortcut, text, .. } = reply.clone();
                    let key = shortcut.clone();
                    view! {
                        <li role="option" class="canned-option" data-shortcut=key
                            on:mousedown=move |ev| { ev.prevent_default(); insert(&reply) }>
                            <strong>"/"{shortcut}</strong>" "{text}
                        </li>
                    }
                })
                .collect_view();
            view! { <ul class="canned-picker" role="listbox" aria-label=t.canned><li class="canned-none">{t.canned_none}</li>{options}</ul> }
        })
    };
    let row = move || {
        let (label, placeholder, button, class) = if noting.get() && team() {
            (t.note, t.note_placeholder, t.note, "composer-row noting")
        } else {
            (texts.message_label, texts.placeholder, texts.send, "composer-row")
        };
        view! {
            <div class=class>
                <textarea class="composer-input" rows="1" aria-label=label placeholder=placeholder title=texts.send_hint
                    autocomplete="off" prop:value=move || draft.get() on:keydown=keydown
                    on:input=move |ev| {
                        draft.set(event_target_value(&ev));
                        error.set(None);
                        typing();
                    }
                ></textarea>
                <button type="submit" class="send" aria-label=button>{button}</button>
            </div>
        }
    };
    view! {
        <form class="composer" on:submit=submit>
            {move || error.get().map(|message| view! { <p class="composer-error" role="alert">{message}</p> })}
            {mode}
            {picker}
            {row}
        </form>
    }
}
