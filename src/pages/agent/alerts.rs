//! New-message alerts in the console: the unread count in the tab title, a tone, and a
//! desktop notification while the tab is hidden; the two switches that turn the last two on.
//! Counters (`data-alerts`, `data-sounds`, `data-notified` on `.agent-page`) say what was done.

use kefu_core::alerts::{desktop_wanted, Permission};
use kefu_core::courier::Model;
use kefu_core::inbox::Inbox;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser::chat::Chat;
use crate::browser::notify;
use crate::browser::storage::local_time;
use crate::pages::texts;

/// The console's alert switches and what they have done.
#[derive(Clone, Copy)]
pub(super) struct Alerts {
    sound: RwSignal<bool>,
    desktop: RwSignal<bool>,
    /// Alerts raised, tones played, desktop notifications shown.
    pub(super) raised: RwSignal<u64>,
    pub(super) sounded: RwSignal<u64>,
    pub(super) notified: RwSignal<u64>,
    inbox: RwSignal<Inbox>,
}

impl Alerts {
    /// Follows the chat's alerts with a tone and, while the tab is hidden, a notification;
    /// keeps the unread count in the tab's title.
    pub(super) fn start(chat: Chat<Inbox>) -> Alerts {
        let alerts = Alerts {
            sound: RwSignal::new(notify::sound_enabled()),
            desktop: RwSignal::new(notify::desktop_enabled() && notify::permission() == Permission::Granted),
            raised: RwSignal::new(0),
            sounded: RwSignal::new(0),
            notified: RwSignal::new(0),
            inbox: chat.model,
        };
        Effect::new(move |seen: Option<u64>| {
            let (count, conversation) = chat.alerts.get();
            if seen.is_some_and(|seen| count > seen) {
                alerts.raise(conversation);
            }
            count
        });
        let texts = texts();
        Effect::new(move |_| {
            let unread = chat.model.with(|inbox| inbox.unread());
            let title = if unread > 0 {
                format!("({unread}) {}", texts.agent_title)
            } else {
                texts.agent_title.to_owned()
            };
            document().set_title(&title);
        });
        alerts
    }

    fn raise(self, conversation: Option<kefu_protocol::v1::ConversationId>) {
        let texts = texts();
        self.raised.update(|n| *n += 1);
        if self.sound.get_untracked() {
            match notify::beep() {
                Ok(()) => self.sounded.update(|n| *n += 1),
                Err(err) => self.notice(&format!("{}: {err}", texts.sound_failed)),
            }
        }
        if desktop_wanted(self.desktop.get_untracked(), notify::permission(), notify::page_hidden()) {
            let (name, text) = self
                .inbox
                .with_untracked(|inbox| {
                    inbox.conversation(conversation?).map(|c| {
                        (c.username.clone(), c.preview().map(|e| e.text.clone()).unwrap_or_default())
                    })
                })
                .unwrap_or_default();
            match notify::show(&format!("{} {name}", texts.new_message_from), &text) {
                Ok(()) => self.notified.update(|n| *n += 1),
                Err(err) => self.notice(&format!("{}: {err}", texts.desktop_failed)),
            }
        }
    }

    fn notice(self, text: &str) {
        self.inbox.update(|inbox| inbox.notice(text, local_time()));
    }
}

#[component]
pub(super) fn AlertSwitches(alerts: Alerts) -> impl IntoView {
    let texts = texts();
    let toggle_sound = move |_| {
        let on = !alerts.sound.get_untracked();
        alerts.sound.set(on);
        notify::set_sound(on);
        if on {
            // A first tone now, inside the click, so the browser allows the later ones.
            if let Err(err) = notify::beep() {
                alerts.notice(&format!("{}: {err}", texts.sound_failed));
            }
        }
    };
    let toggle_desktop = move |_| {
        if alerts.desktop.get_untracked() {
            alerts.desktop.set(false);
            notify::set_desktop(false);
            return;
        }
        spawn_local(async move {
            match notify::request_permission().await {
                Permission::Granted => {
                    alerts.desktop.set(true);
                    notify::set_desktop(true);
                }
                Permission::Unsupported => alerts.notice(texts.desktop_unsupported),
                Permission::Denied | Permission::Ask => alerts.notice(texts.desktop_blocked),
            }
        });
    };
    view! {
        <button
            type="button"
            class="alert-switch sound-switch"
            aria-pressed=move || alerts.sound.get().to_string()
            on:click=toggle_sound
        >
            <span class="switch-track" aria-hidden="true">
                <span class="switch-thumb"></span>
            </span>
            <span class="switch-label">{texts.sound}</span>
        </button>
        <button
            type="button"
            class="alert-switch desktop-switch"
            aria-pressed=move || alerts.desktop.get().to_string()
            on:click=toggle_desktop
        >
            <span class="switch-track" aria-hidden="true">
                <span class="switch-thumb"></span>
            </span>
            <span class="switch-label">{texts.desktop_alerts}</span>
        </button>
    }
}
