//! The user page (`/`): chat with customer service, with the live connection status.

use kefu_protocol::{endpoint_url, ServerFrame};
use leptos::prelude::*;

use crate::config::PageConfig;
use crate::connection::Status;
use crate::i18n::Texts;
use crate::link::{Link, LinkEvent};
use crate::timeline::UserChat;
use crate::ui::{check_text, local_time, status_label, Composer, MessageList, StatusIndicator};

#[component]
pub fn UserPage(config: PageConfig, uid: i64, texts: &'static Texts) -> impl IntoView {
    let chat = RwSignal::new(UserChat::new(uid));
    let link_state = RwSignal::new((Status::Connecting, false));
    let link = Link::start(endpoint_url(&config.server, uid), config.timing, move |event| match event {
        LinkEvent::Status { status, retrying } => link_state.set((status, retrying)),
        LinkEvent::Frame(ServerFrame::Chat(message)) => chat.update(|chat| {
            chat.receive(&message);
        }),
        LinkEvent::Frame(ServerFrame::Notice(text)) => chat.update(|chat| chat.notice(&text, local_time())),
        LinkEvent::Frame(ServerFrame::HeartbeatAck) => {}
        LinkEvent::Lost => chat.update(|chat| {
            chat.timeline.fail_pending();
        }),
        LinkEvent::Processed(ids) => chat.update(|chat| {
            chat.timeline.fail_unechoed(&ids);
        }),
        LinkEvent::ClosedByServer { code, reason } => chat.update(|chat| {
            chat.notice(&format!("{} ({code}): {reason}", texts.closed_by_server), local_time())
        }),
    });
    let link = StoredValue::new(link);

    let online = Signal::derive(move || link_state.get().0 == Status::Online);
    let send = Callback::new(move |text: String| {
        check_text(texts, &text)?;
        if !online.get_untracked() {
            return Err(texts.offline_error.to_owned());
        }
        if let Some(id) = chat.try_update(|chat| chat.send_local(&text, local_time())) {
            link.with_value(|link| link.send(id, text));
        }
        Ok(())
    });
    let retry = Callback::new(move |id: u64| {
        if let Some(text) = chat.try_update(|chat| chat.timeline.retry(id)).flatten() {
            link.with_value(|link| link.send(id, text));
        }
    });

    view! {
        <div class="page user-page">
            <header class="bar">
                <h1 class="title">{texts.title}</h1>
                <StatusIndicator
                    status=Signal::derive(move || link_state.get().0)
                    label=Signal::derive(move || {
                        let (status, retrying) = link_state.get();
                        status_label(texts, status, retrying)
                    })
                />
            </header>
            <MessageList
                entries=Signal::derive(move || chat.with(|chat| chat.timeline.entries.clone()))
                texts
                on_retry=retry
            />
            <Composer texts can_send=online on_send=send />
        </div>
    }
}
