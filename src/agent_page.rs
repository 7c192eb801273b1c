//! The agent console (`/agent`): sign-in ([`AgentGate`]), conversations grouped by user,
//! replies, and a connect/disconnect switch.

use kefu_protocol::AGENT_UID;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::chat::Chat;
use crate::config::PageConfig;
use crate::courier::Protocol;
use crate::i18n::Texts;
use crate::identity::{self, Probe};
use crate::inbox::Inbox;
use crate::notify::{self, Permission};
use crate::ui::{Avatar, Composer, MessageList, StatusIndicator};

/// What the console shows before it connects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Gate {
    Checking,
    /// The sign-in form, with why the last attempt failed; `unreachable`: the backend could
    /// not be asked whether it has accounts, so connecting without one is offered too.
    SignIn {
        error: Option<String>,
        unreachable: bool,
    },
    /// Connected with this session (`None`: a backend without accounts).
    Console {
        token: Option<String>,
    },
}

#[component]
pub fn AgentGate(config: PageConfig, texts: &'static Texts) -> impl IntoView {
    let refusal = identity::take_refusal();
    let gate = RwSignal::new(Gate::Checking);
    match identity::agent_session(&config) {
        Some(token) => gate.set(Gate::Console { token: Some(token) }),
        None => {
            let config = config.clone();
            spawn_local(async move {
                gate.set(match identity::probe(&config).await {
                    Probe::Accounts => Gate::SignIn { error: refusal, unreachable: false },
                    Probe::NoAccounts => Gate::Console { token: None },
                    Probe::Unreachable(err) => Gate::SignIn {
                        error: Some(format!("{}: {err}", texts.cannot_reach)),
                        unreachable: true,
                    },
                });
            });
        }
    }
    move || match gate.get() {
        Gate::Checking => {
            view! { <p class="placeholder" role="status" data-state="connecting">{texts.connecting}</p> }
                .into_any()
        }
        Gate::SignIn { error, unreachable } => {
            view! { <SignInForm config=config.clone() gate error unreachable texts /> }.into_any()
        }
        Gate::Console { token } => view! { <AgentPage config=config.clone() token texts /> }.into_any(),
    }
}

#[component]
fn SignInForm(
    config: PageConfig,
    gate: RwSignal<Gate>,
    error: Option<String>,
    unreachable: bool,
    texts: &'static Texts,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(error);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (who, secret) = (name.get_untracked(), password.get_untracked());
        if who.trim().is_empty() || secret.is_empty() {
            error.set(Some(texts.sign_in_missing.to_owned()));
            return;
        }
        busy.set(true);
        let config = config.clone();
        spawn_local(async move {
            match identity::sign_in(&config, who.trim(), &secret).await {
                Ok(token) => gate.set(Gate::Console { token: Some(token) }),
                Err(err) => {
                    error.set(Some(err));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <div class="page sign-in-page">
            <form class="sign-in" on:submit=submit aria-label=texts.sign_in>
                <h1 class="title">{texts.agent_title}</h1>
                <label>
                    <span>{texts.agent_name}</span>
                    <input
                        name="name"
                        autocomplete="username"
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    <span>{texts.password}</span>
                    <input
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        prop:value=move || password.get()
                        on:input=move |ev| password.set(event_target_value(&ev))
                    />
                </label>
                <Show when=move || error.with(Option::is_some)>
                    <p class="error" role="alert">{move || error.get().unwrap_or_default()}</p>
                </Show>
                <button type="submit" class="primary" disabled=move || busy.get()>{texts.sign_in}</button>
                {unreachable
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                class="secondary"
                                on:click=move |_| gate.set(Gate::Console { token: None })
                            >
                                {texts.without_account}
                            </button>
                        }
                    })}
            </form>
        </div>
    }
}

#[component]
pub fn AgentPage(config: PageConfig, token: Option<String>, texts: &'static Texts) -> impl IntoView {
    let storage_key = format!("kefu.outbox.{}.agent", config.server);
    let url = kefu_protocol::endpoint_url_with_token(&config.server, AGENT_UID, token.as_deref());
    let signed_in = token.is_some();
    let chat = Chat::start(url, config.timing, storage_key, Inbox::default(), texts);
    // A session the server refuses (expired, account removed): sign in again.
    {
        let config = config.clone();
        Effect::new(move |_| {
            if let Some(reason) = chat.refused.get() {
                identity::forget_agent_session(&config);
                identity::restart_with(&reason);
            }
        });
    }
    let alerts = Alerts::start(chat, texts);
    let sign_out = move |_| {
        if let Some(link) = chat.link() {
            link.disable();
        }
        identity::forget_agent_session(&config);
        identity::restart_with(texts.signed_out);
    };
    let inbox = chat.model;
    let switched_on = RwSignal::new(true);

    let toggle = move |_| {
        let on = !switched_on.get_untracked();
        switched_on.set(on);
        if let Some(link) = chat.link() {
            if on {
                link.enable()
            } else {
                link.disable()
            }
        }
    };
    let has_selection = Signal::derive(move || inbox.with(|inbox| inbox.selected().is_some()));
    let send = Callback::new(move |text: String| {
        let Some(conversation) = inbox.with_untracked(Inbox::selected_id) else {
            return Err(texts.pick_conversation.to_owned());
        };
        chat.compose(Some(conversation), text)
    });
    let retry = Callback::new(move |entry: u64| chat.retry(entry));
    let typing = Callback::new(move |()| {
        if let Some(conversation) = inbox.with_untracked(Inbox::selected_id) {
            chat.typing(Some(conversation));
        }
    });
    Effect::new(move |_| {
        chat.clock.track();
        let open = inbox.with(|inbox| inbox.selected().map(|c| (c.uid, c.timeline.last_seq())));
        if let Some((conversation, last)) = open {
            chat.seen(Some(conversation), last);
        }
    });
    let user_typing = move || chat.showing(inbox.with(|inbox| inbox.selected().and_then(|c| c.typing_until)));
    let older = Callback::new(move |()| {
        if let Some(conversation) = inbox.with_untracked(Inbox::selected_id) {
            chat.older(conversation);
        }
    });
    Effect::new(move |_| {
        let unread = inbox.with(|inbox| inbox.unread());
        let title = if unread > 0 {
            format!("({unread}) {}", texts.agent_title)
        } else {
            texts.agent_title.to_owned()
        };
        document().set_title(&title);
    });

    view! {
        <div
            class="page agent-page"
            data-alerts=move || alerts.raised.get().to_string()
            data-sounds=move || alerts.sounded.get().to_string()
            data-notified=move || alerts.notified.get().to_string()
        >
            <header class="bar">
                <h1 class="title">{texts.agent_title}</h1>
                <StatusIndicator
                    status=Signal::derive(move || chat.link_state.get().0)
                    label=Signal::derive(move || {
                        if switched_on.get() { chat.status_label() } else { texts.switched_off.to_owned() }
                    })
                />
                <button
                    type="button"
                    class="switch"
                    role="switch"
                    aria-checked=move || switched_on.get().to_string()
                    on:click=toggle
                >
                    {move || if switched_on.get() { texts.disconnect } else { texts.connect }}
                </button>
                <AlertSwitches alerts texts />
                {signed_in
                    .then(|| {
                        view! {
                            <button type="button" class="sign-out" on:click=sign_out>
                                {texts.sign_out}
                            </button>
                        }
                    })}
            </header>
            <Show when=move || chat.protocol() == Protocol::V0>
                <p class="banner" role="note">{texts.broadcast_warning}</p>
            </Show>
            <ul class="notices" aria-label="notices">
                <For
                    each=move || inbox.with(|inbox| inbox.notices.entries.clone())
                    key=|entry| entry.id
                    children=move |entry| view! { <li data-from="system">{entry.time}" "{entry.text}</li> }
                />
            </ul>
            <div class="agent-main">
                <ConversationList inbox texts clock=chat.clock />
                <section class="conversation">
                    <Show
                        when=move || has_selection.get()
                        fallback=move || view! { <p class="placeholder">{texts.pick_conversation}</p> }
                    >
                        <MessageList
                            entries=Signal::derive(move || {
                                inbox
                                    .with(|inbox| {
                                        inbox.selected().map(|c| c.timeline.entries.clone()).unwrap_or_default()
                                    })
                            })
                            texts
                            on_retry=retry
                            on_top=older
                        />
                        <Show when=user_typing>
                            <p class="typing" data-typing="user" aria-live="polite">{texts.user_typing}</p>
                        </Show>
                        <Composer texts on_send=send on_typing=typing />
                    </Show>
                </section>
            </div>
        </div>
    }
}

#[component]
fn ConversationList(inbox: RwSignal<Inbox>, texts: &'static Texts, clock: RwSignal<u64>) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    // Not tied to the clock: the list is rebuilt when the inbox changes, not twice a second.
    let rows = move || {
        let filter = filter.get();
        inbox.with(|inbox| {
            let selected = inbox.selected().map(|c| c.uid);
            inbox
                .filtered(&filter)
                .into_iter()
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
                    }
                })
                .collect::<Vec<_>>()
        })
    };
    view! {
        <nav class="conversations" aria-label=texts.conversations>
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
                <For
                    each=rows
                    key=|row| row.clone()
                    children=move |row| view! { <ConversationRow row inbox clock texts /> }
                />
            </ul>
        </nav>
    }
}

/// What one line of the conversation list shows.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Row {
    uid: i64,
    name: String,
    avatar: String,
    unread: usize,
    online: bool,
    /// Until when (ms) the user shows as typing.
    typing_until: Option<u64>,
    preview: String,
    time: String,
    selected: bool,
}

#[component]
fn ConversationRow(
    row: Row,
    inbox: RwSignal<Inbox>,
    clock: RwSignal<u64>,
    texts: &'static Texts,
) -> impl IntoView {
    let uid = row.uid;
    let presence = if row.online { texts.user_online } else { texts.user_offline };
    // Only a row with someone typing follows the clock (to clear it on time).
    let until = row.typing_until;
    let typing = move || until.is_some_and(|until| clock.get() < until);
    let preview = row.preview;
    view! {
        <li>
            <button
                type="button"
                class="conversation-item"
                data-uid=uid.to_string()
                data-online=row.online.to_string()
                data-typing=move || typing().to_string()
                aria-current=row.selected.then_some("true")
                on:click=move |_| {
                    inbox.update(|inbox| {
                        inbox.select(uid);
                    })
                }
            >
                <Avatar url=row.avatar name=row.name.clone() />
                <span class="conversation-name">
                    <span class="presence" aria-label=presence title=presence></span>
                    {row.name}
                </span>
                <span class="conversation-time">{row.time}</span>
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

/// The console's alert switches and what they have done (test hooks and the person's view).
#[derive(Clone, Copy)]
struct Alerts {
    sound: RwSignal<bool>,
    desktop: RwSignal<bool>,
    /// Alerts raised, tones played, desktop notifications shown.
    raised: RwSignal<u64>,
    sounded: RwSignal<u64>,
    notified: RwSignal<u64>,
    inbox: RwSignal<Inbox>,
}

impl Alerts {
    /// Follows the chat's alerts with a tone and, while the tab is hidden, a notification.
    fn start(chat: Chat<Inbox>, texts: &'static Texts) -> Alerts {
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
                alerts.raise(conversation, texts);
            }
            count
        });
        alerts
    }

    fn raise(self, conversation: Option<i64>, texts: &'static Texts) {
        self.raised.update(|n| *n += 1);
        if self.sound.get_untracked() {
            match notify::beep() {
                Ok(()) => self.sounded.update(|n| *n += 1),
                Err(err) => self.notice(&format!("{}: {err}", texts.sound_failed)),
            }
        }
        if notify::desktop_wanted(self.desktop.get_untracked(), notify::permission(), notify::page_hidden()) {
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
        self.inbox.update(|inbox| crate::courier::Model::notice(inbox, text, crate::ui::local_time()));
    }
}

#[component]
fn AlertSwitches(alerts: Alerts, texts: &'static Texts) -> impl IntoView {
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
            {texts.sound}
        </button>
        <button
            type="button"
            class="alert-switch desktop-switch"
            aria-pressed=move || alerts.desktop.get().to_string()
            on:click=toggle_desktop
        >
            {texts.desktop_alerts}
        </button>
    }
}
