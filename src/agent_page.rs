//! The agent console (`/agent`): conversations grouped by user, replies, and a
//! connect/disconnect switch.

use kefu_protocol::{endpoint_url, ServerFrame, AGENT_UID};
use leptos::prelude::*;

use crate::config::PageConfig;
use crate::connection::Status;
use crate::i18n::Texts;
use crate::inbox::Inbox;
use crate::link::{Link, LinkEvent};
use crate::ui::{check_text, local_time, status_label, Avatar, Composer, MessageList, StatusIndicator};

#[component]
pub fn AgentPage(config: PageConfig, texts: &'static Texts) -> impl IntoView {
    let inbox = RwSignal::new(Inbox::default());
    let link_state = RwSignal::new((Status::Connecting, false));
    let switched_on = RwSignal::new(true);
    let link =
        Link::start(endpoint_url(&config.server, AGENT_UID), config.timing, move |event| match event {
            LinkEvent::Status { status, retrying } => link_state.set((status, retrying)),
            LinkEvent::Frame(ServerFrame::Chat(message)) => inbox.update(|inbox| inbox.receive(&message)),
            LinkEvent::Frame(ServerFrame::Notice(text)) => {
                inbox.update(|inbox| inbox.push_notice(&text, local_time()))
            }
            LinkEvent::Frame(ServerFrame::HeartbeatAck) => {}
            LinkEvent::Lost => inbox.update(|inbox| {
                inbox.fail_pending();
            }),
            LinkEvent::Processed(ids) => inbox.update(|inbox| {
                inbox.fail_unechoed(&ids);
            }),
            LinkEvent::ClosedByServer { code, reason } => inbox.update(|inbox| {
                inbox.push_notice(&format!("{} ({code}): {reason}", texts.closed_by_server), local_time())
            }),
        });
    let link = StoredValue::new(link);

    let toggle = move |_| {
        let on = !switched_on.get_untracked();
        switched_on.set(on);
        link.with_value(|link| if on { link.enable() } else { link.disable() });
    };
    let online = Signal::derive(move || link_state.get().0 == Status::Online);
    let has_selection = Signal::derive(move || inbox.with(|inbox| inbox.selected().is_some()));
    let send = Callback::new(move |text: String| {
        check_text(texts, &text)?;
        if !online.get_untracked() {
            return Err(texts.offline_error.to_owned());
        }
        let Some(id) = inbox.try_update(|inbox| inbox.send_local(&text, local_time())).flatten() else {
            return Err(texts.pick_conversation.to_owned());
        };
        link.with_value(|link| link.send(id, text));
        Ok(())
    });
    let retry = Callback::new(move |id: u64| {
        if let Some(text) = inbox.try_update(|inbox| inbox.retry(id)).flatten() {
            link.with_value(|link| link.send(id, text));
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
        <div class="page agent-page">
            <header class="bar">
                <h1 class="title">{texts.agent_title}</h1>
                <StatusIndicator
                    status=Signal::derive(move || link_state.get().0)
                    label=Signal::derive(move || {
                        let (status, retrying) = link_state.get();
                        if switched_on.get() { status_label(texts, status, retrying) } else { texts.switched_off }
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
            </header>
            <p class="banner" role="note">{texts.broadcast_warning}</p>
            <ul class="notices" aria-label="notices">
                <For
                    each=move || inbox.with(|inbox| inbox.notices.entries.clone())
                    key=|entry| entry.id
                    children=move |entry| view! { <li data-from="system">{entry.time}" "{entry.text}</li> }
                />
            </ul>
            <div class="agent-main">
                <ConversationList inbox texts />
                <section class="conversation">
                    <Show
                        when=move || has_selection.get()
                        fallback=move || view! { <p class="placeholder">{texts.pick_conversation}</p> }
                    >
                        <MessageList
                            entries=Signal::derive(move || {
                                inbox.with(|inbox| inbox.selected().map(|c| c.timeline.entries.clone()).unwrap_or_default())
                            })
                            texts
                            on_retry=retry
                        />
                        <Composer texts can_send=online on_send=send />
                    </Show>
                </section>
            </div>
        </div>
    }
}

#[component]
fn ConversationList(inbox: RwSignal<Inbox>, texts: &'static Texts) -> impl IntoView {
    let rows = move || {
        inbox.with(|inbox| {
            let selected = inbox.selected().map(|c| c.uid);
            inbox
                .conversations()
                .into_iter()
                .map(|c| {
                    let preview = c.preview().map(|e| (e.text.clone(), e.time.clone())).unwrap_or_default();
                    (c.uid, c.username.clone(), c.avatar.clone(), c.unread, preview, selected == Some(c.uid))
                })
                .collect::<Vec<_>>()
        })
    };
    view! {
        <nav class="conversations" aria-label=texts.conversations>
            <Show when=move || inbox.with(|inbox| inbox.conversations().is_empty())>
                <p class="placeholder">{texts.no_conversations}</p>
            </Show>
            <ul>
                <For
                    each=rows
                    key=|row| row.clone()
                    children=move |(uid, name, avatar, unread, (preview, time), selected)| {
                        view! {
                            <li>
                                <button
                                    type="button"
                                    class="conversation-item"
                                    data-uid=uid.to_string()
                                    aria-current=selected.then_some("true")
                                    on:click=move |_| {
                                        inbox.update(|inbox| {
                                            inbox.select(uid);
                                        })
                                    }
                                >
                                    <Avatar url=avatar name=name.clone() />
                                    <span class="conversation-name">{name}</span>
                                    <span class="conversation-time">{time}</span>
                                    <span class="conversation-preview">{preview}</span>
                                    {(unread > 0).then(|| view! { <span class="unread" data-unread=unread.to_string()>{unread}</span> })}
                                </button>
                            </li>
                        }
                    }
                />
            </ul>
        </nav>
    }
}
