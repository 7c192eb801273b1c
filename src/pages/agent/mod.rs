//! The agent console (`/agent`): [`AgentGate`] settles the session (sign-in form, or none
//! against a backend without accounts), then [`AgentPage`] shows the conversations.
//!
//! - [`sign_in`]: the sign-in form.
//! - [`list`]: the conversation list.
//! - [`conversation`]: the open conversation and the reply composer.
//! - [`alerts`]: title count, tone, desktop notifications and their switches.
//! - [`team`]: the team inbox's views, actions and keys; [`composer`]: reply or private
//!   note, with the canned replies' `/` picker; [`canned`]: managing the canned replies.

mod alerts;
mod canned;
mod composer;
mod conversation;
mod list;
mod sign_in;
mod team;

use kefu_core::config::PageConfig;
use kefu_core::courier::Protocol;
use kefu_core::inbox::Inbox;
use kefu_protocol::AGENT_UID;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser::chat::Chat;
use crate::browser::identity::{self, AgentSession, Probe};
use crate::browser::storage::Key;
use crate::pages::shared::StatusIndicator;
use crate::pages::texts;
use alerts::{AlertSwitches, Alerts};
use conversation::ConversationPane;
use list::ConversationList;
use sign_in::SignInForm;

/// What the console shows before it connects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Gate {
    Checking,
    /// The sign-in form, with why the last attempt failed; `unreachable`: the backend could
    /// not be asked whether it has accounts, so connecting without one is offered too;
    /// `trusted`: whether this page may send a password to the backend at all.
    SignIn {
        error: Option<String>,
        unreachable: bool,
        trusted: bool,
    },
    /// Connected with this session (`None`: a backend without accounts).
    Console {
        session: Option<AgentSession>,
    },
}

#[component]
pub(crate) fn AgentGate(config: PageConfig) -> impl IntoView {
    let texts = texts();
    let refusal = identity::take_refusal();
    let gate = RwSignal::new(Gate::Checking);
    match identity::agent_session(&config) {
        Some(session) => gate.set(Gate::Console { session: Some(session) }),
        None => {
            let config = config.clone();
            spawn_local(async move {
                let trusted = identity::may_sign_in(&config).await;
                gate.set(match identity::probe(&config).await {
                    Probe::Accounts => Gate::SignIn { error: refusal, unreachable: false, trusted },
                    Probe::NoAccounts => Gate::Console { session: None },
                    Probe::Unreachable(err) => Gate::SignIn {
                        error: Some(format!("{}: {err}", texts.cannot_reach)),
                        unreachable: true,
                        trusted,
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
        Gate::SignIn { error, unreachable, trusted } => {
            view! { <SignInForm config=config.clone() gate error unreachable trusted /> }.into_any()
        }
        Gate::Console { session } => view! { <AgentPage config=config.clone() session /> }.into_any(),
    }
}

#[component]
fn AgentPage(config: PageConfig, session: Option<AgentSession>) -> impl IntoView {
    let texts = texts();
    let outbox = Key::AgentOutbox { server: config.server.clone() };
    let token = session.as_ref().map(|s| s.token.as_str());
    let url = kefu_protocol::endpoint_url_with_token(&config.server, AGENT_UID, token);
    let me = session.as_ref().map(|s| s.name.as_str()).unwrap_or_default();
    let mut inbox = Inbox::default();
    inbox.team = kefu_core::team::Team::new(me);
    let notes = Key::AgentNotes { server: config.server.clone() };
    inbox.team.restore_notes(team::stored_notes(&notes));
    let chat = Chat::start(url, config.timing, outbox, inbox, texts);
    team::keep_notes(chat, notes);
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
    let alerts = Alerts::start(chat);
    let inbox = chat.model;
    let desk = team::Desk::new();
    team::install_keys(chat, desk);
    view! {
        <div
            class="page agent-page"
            data-alerts=move || alerts.raised.get().to_string()
            data-sounds=move || alerts.sounded.get().to_string()
            data-notified=move || alerts.notified.get().to_string()
            data-protocol=move || match chat.protocol() {
                Protocol::V0 => "v0",
                Protocol::V1 => "v1",
                Protocol::Unknown => "unknown",
            }
        >
            <ConsoleBar chat alerts config session />
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
            <canned::CannedManager chat desk />
            <team::HelpOverlay desk />
            <div class="agent-main">
                // The original backend says nothing of presence: show none rather than "offline".
                <ConversationList
                    inbox
                    clock=chat.clock
                    presence_known=Signal::derive(move || chat.protocol() != Protocol::V0)
                    desk
                />
                <ConversationPane chat />
            </div>
        </div>
    }
}

/// Which server the page talks to, when it is not the page's own: a person must be able to
/// see where their password and messages go.
#[component]
pub(super) fn BackendHost(config: PageConfig) -> impl IntoView {
    let texts = texts();
    (!config.same_origin).then(|| {
        view! {
            <span class="backend" data-backend=config.backend_host().to_owned()>
                {texts.backend}": "{config.backend_host().to_owned()}
            </span>
        }
    })
}

/// The console's header: title, who is signed in, status, the availability switch, alert
/// switches, sign out.
#[component]
fn ConsoleBar(
    chat: Chat<Inbox>,
    alerts: Alerts,
    config: PageConfig,
    session: Option<AgentSession>,
) -> impl IntoView {
    let texts = texts();
    let backend = config.clone();
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
    let signing_out = RwSignal::new(false);
    let sign_out = move |_| {
        if signing_out.get_untracked() {
            return;
        }
        signing_out.set(true);
        if let Some(link) = chat.link() {
            link.disable();
        }
        let config = config.clone();
        leptos::task::spawn_local(async move {
            let told = identity::end_agent_session(&config).await;
            identity::forget_agent_session(&config);
            match told {
                Ok(()) => identity::restart_with(texts.signed_out),
                Err(reason) => {
                    identity::restart_with(&texts.signed_out_here_only.replace("{reason}", &reason))
                }
            }
        });
    };
    view! {
        <header class="bar">
            <h1 class="title">{texts.agent_title}</h1>
            <BackendHost config=backend />
            <StatusIndicator
                status=Signal::derive(move || chat.link_state.get().0)
                label=Signal::derive(move || {
                    if switched_on.get() { chat.status_label(None) } else { texts.switched_off.to_owned() }
                })
                detail=Signal::derive(move || chat.last_close.get())
            />
            <button
                type="button"
                class="switch availability"
                role="switch"
                aria-checked=move || switched_on.get().to_string()
                aria-label=texts.availability
                title=move || if switched_on.get() { texts.disconnect } else { texts.connect }
                on:click=toggle
            >
                <span class="switch-track" aria-hidden="true">
                    <span class="switch-thumb"></span>
                </span>
                <span class="switch-label">
                    {move || if switched_on.get() { texts.available } else { texts.away_switch }}
                </span>
            </button>
            <AlertSwitches alerts />
            {session
                .map(|session| {
                    let name = session.name;
                    view! {
                        <span class="signed-in" data-agent=name.clone()>
                            {(!name.is_empty()).then(|| view! { {texts.signed_in_as}" " <strong>{name.clone()}</strong> })}
                        </span>
                        <button type="button" class="sign-out" on:click=sign_out disabled=move || signing_out.get()>
                            {texts.sign_out}
                        </button>
                    }
                })}
        </header>
    }
}
